"""`ser predict --fast` (bf16 encoder) against fp32 on a *trained* export, over generated clips.

    python benchmarks/fast_trained.py EXPORT_DIR [CLIPS_DIR]

EXPORT_DIR: e.g. the `emotion_model` export of `make demo-pretrained` (data/models/<run>/export);
CLIPS_DIR (default data/demo_corpora/emodb): up to 48 .wav files, spread over the folder. Four arms
against fp32 in the same run: `--fast` (bf16 autocast of the encoder), fp32 with oneDNN's matmuls
in bf16 (`torch.backends.mkldnn.matmul.fp32_precision = "bf16"`: activations stay fp32 between ops,
only matmul inputs are rounded; AMX does the work on CPUs that have it), fp16 autocast (a 10-bit
mantissa against bf16's 7; AVX512-FP16 CPUs compute in it natively) and int8 dynamic quantization
of the encoder's Linear layers (``torch.ao.quantization.quantize_dynamic``, qint8 weights, activations
quantized per batch). Ends with one line per arm:
seconds of each, the speed ratio, the largest per-frame probability difference and the share of
files whose clip top class is the same. Random-weight encoders (benchmarks/inference.py) have flat
probabilities; a trained model's peaked ones show what bf16 rounding really moves.
"""
import sys
import time
from pathlib import Path

import numpy as np
import torch

from ser_pipeline.inference import predict_file
from ser_pipeline.model.export import load_model

torch.set_num_threads(2)
model, meta = load_model(sys.argv[1])
every = sorted(Path(sys.argv[2] if len(sys.argv) > 2 else "data/demo_corpora/emodb").rglob("*.wav"))
files = every[:: max(1, len(every) // 48)][:48]


def timed(m=None, **kw):
    """Predictions of every file with ``m`` (default: the fp32 model) and the seconds they took."""
    t = time.perf_counter()
    out = [predict_file(model if m is None else m, meta, f, **kw) for f in files]
    return out, time.perf_counter() - t


def matmul_bf16():
    torch.backends.mkldnn.matmul.fp32_precision = "bf16"
    try:
        return timed()
    finally:
        torch.backends.mkldnn.matmul.fp32_precision = "ieee"


def fp16():
    with torch.autocast("cpu", dtype=torch.float16):
        return timed()


def int8():
    import copy
    import warnings

    with warnings.catch_warnings():  # torch.ao.quantization is deprecated in favour of torchao
        warnings.simplefilter("ignore")
        q = copy.deepcopy(model)  # the encoder's Linear layers; the heads stay fp32
        q.encoder = torch.ao.quantization.quantize_dynamic(q.encoder, {torch.nn.Linear}, dtype=torch.qint8)
    return timed(q)


ref, t32 = timed()
for name, (out, t) in [("fast", timed(fast=True)), ("matmul_bf16", matmul_bf16()), ("fp16_autocast", fp16()),
                       ("int8_dynamic", int8())]:
    dmax = max(float(np.abs(a.frame_probs[:min(len(a.frame_probs), len(b.frame_probs))]
                            - b.frame_probs[:min(len(a.frame_probs), len(b.frame_probs))]).max())
               for a, b in zip(ref, out))
    agree = np.mean([a.top == b.top for a, b in zip(ref, out)])
    print(f"{sys.argv[1]}: {len(files)} clips: {name}: fp32 {t32:.1f} s, {name} {t:.1f} s "
          f"({t32 / t:.2f}x), max_prob_diff={dmax:.4f} top_agree={agree:.3f}")
