"""`ser predict --fast` (bf16 encoder) against fp32 on a *trained* export, over generated clips.

    python benchmarks/fast_trained.py EXPORT_DIR [CLIPS_DIR]

EXPORT_DIR: e.g. the `emotion_model` export of `make demo-pretrained` (data/models/<run>/export);
CLIPS_DIR (default data/demo_corpora/emodb): up to 48 .wav files, spread over the folder. Ends with
one line: seconds of each, the speed ratio, the largest per-frame probability difference and the
share of files whose clip top class is the same. Random-weight encoders (benchmarks/inference.py)
have flat probabilities; a trained model's peaked ones show what bf16 rounding really moves.
"""
import sys
import time
from pathlib import Path
import numpy as np
import torch
from ser_pipeline.model.export import load_model
from ser_pipeline.inference import predict_file

torch.set_num_threads(2)
model, meta = load_model(sys.argv[1])
every = sorted(Path(sys.argv[2] if len(sys.argv) > 2 else "data/demo_corpora/emodb").rglob("*.wav"))
files = every[:: max(1, len(every) // 48)][:48]
dmax, agree, t32, t16, audio = 0.0, 0, 0.0, 0.0, 0.0
for f in files:
    t = time.perf_counter(); a = predict_file(model, meta, f); t32 += time.perf_counter() - t
    t = time.perf_counter(); b = predict_file(model, meta, f, fast=True); t16 += time.perf_counter() - t
    n = min(len(a.frame_probs), len(b.frame_probs))
    dmax = max(dmax, float(np.abs(a.frame_probs[:n] - b.frame_probs[:n]).max()))
    agree += a.top == b.top
print(f"{sys.argv[1]}: {len(files)} EMO-DB demo clips: fp32 {t32:.1f} s, fast {t16:.1f} s "
      f"({t32 / t16:.2f}x), max_prob_diff={dmax:.4f} top_agree={agree / len(files):.3f}")
