"""Inference arms on this machine: speed (RTF) and accuracy against fp32, in one run per size.

Random-weight encoders of Whisper tiny/base/medium shapes (no hub) + the emotion head, seeded.
Every arm scores the same generated clips (``ser_pipeline.synth``, 2–8 s, the 8 emotions, each
padded to one 30 s window as ``ser predict`` does for a short file), one window per forward:

* ``fp32``: the baseline (eager PyTorch, transformers' default attention, which is SDPA);
* ``eager-attn``: the same with transformers' eager attention (what SDPA buys);
* ``compile``: ``torch.compile`` of the encoder (compile time reported apart, not in the RTF);
* ``int8``: ``torch.ao.quantization.quantize_dynamic`` of the Linear layers (qint8);
* ``bf16``: bf16 autocast around the encoder forward (what ``ser predict --fast`` runs);
* ``onnx``: ONNX Runtime on an exported encoder, when ``onnxruntime`` is importable;
* ``batch4``: fp32, 4 windows per forward (windows of a long file batched).

RTF = compute seconds / audio seconds of the windows (30 s each); lower is better. Accuracy:
``max_prob_diff`` = max over frames and classes of |p − p_fp32| (the softmax of the frame logits,
no prior adjustment); ``top_agree`` = share of clips whose clip-level top class (mean logits over
the clip's frames) equals fp32's.

    python benchmarks/inference.py --size medium [--clips 8]

Ends with ``<size> fp32_rtf=<x> fast_rtf=<y> max_prob_diff=<d> top_agree=<a>`` (fast = bf16).
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from collections.abc import Callable

import numpy as np
import torch

from ser_pipeline.audio import SAMPLE_RATE
from ser_pipeline.emotions import CLASSES
from ser_pipeline.model import EmotionModel, ModelConfig
from ser_pipeline.model.emotion_model import valid_frames
from ser_pipeline.model.encoder import build_encoder
from ser_pipeline.model.long_audio import encoder_autocast
from ser_pipeline.synth.voice import make_speaker, synthesize

SIZES = {  # d_model, layers, heads, ffn (whisper tiny/base/medium encoder shapes)
    "tiny": (384, 4, 6, 1536),
    "base": (512, 6, 8, 2048),
    "medium": (1024, 24, 16, 4096),
}
FAST_ARM = "bf16"


DEVICE = torch.device("cpu")  # set by --device


def build_model(size: str, seed: int = 0) -> EmotionModel:
    """Random-weight encoder of ``size``'s shape + emotion head, eval mode, 30 s window, on DEVICE."""
    torch.manual_seed(seed)
    d, n_layers, h, f = SIZES[size]
    cfg = ModelConfig(d_model=d, encoder_layers=n_layers, encoder_attention_heads=h, encoder_ffn_dim=f)
    return EmotionModel(build_encoder(cfg, 30.0)).eval().to(DEVICE)


def make_clips(n: int, seed: int = 0) -> list[np.ndarray]:
    """``n`` generated 16 kHz clips (2–8 s), emotions cycling through the 8 classes."""
    rng = np.random.default_rng(seed)
    voices = [make_speaker(seed + k, f"bench/{k}") for k in range(4)]
    return [synthesize(CLASSES[i % len(CLASSES)], voices[i % len(voices)], float(rng.uniform(2, 8)), SAMPLE_RATE,
                       seed + i) for i in range(n)]


Forward = Callable[[torch.Tensor], torch.Tensor]  # features (B, n_mels, 2T) -> frame logits (B, T, C)


def _eager(model: EmotionModel, fast: bool = False) -> Forward:
    def fwd(feats: torch.Tensor) -> torch.Tensor:
        with encoder_autocast(feats.device, fast):
            return model(feats)[0].float().cpu()
    return fwd


def _onnx(model: EmotionModel) -> Forward:
    import tempfile

    import onnxruntime as ort

    path = tempfile.NamedTemporaryFile(suffix=".onnx", delete=False).name
    example = torch.zeros(1, model.n_mels, 2 * model.n_frames)
    torch.onnx.export(_Logits(model), (example,), path, input_names=["features"], output_names=["logits"],
                      dynamic_axes={"features": {0: "batch"}})
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return lambda feats: torch.from_numpy(sess.run(None, {"features": feats.numpy()})[0])


class _Logits(torch.nn.Module):
    def __init__(self, model: EmotionModel):
        super().__init__()
        self.model = model

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return self.model(feats)[0]


def arms(size: str) -> dict[str, Callable[[], tuple[Forward | None, str]]]:
    """Arm name -> builder returning (forward, note); forward None = not available (note says why)."""
    def fp32():
        return _eager(build_model(size)), ""

    def eager_attn():
        model = build_model(size)
        model.encoder.set_attn_implementation("eager")
        return _eager(model), ""

    def compiled():
        model = build_model(size)
        model.encoder = torch.compile(model.encoder)
        return _eager(model), "compile"

    def int8():
        if DEVICE.type != "cpu":
            return None, "CPU only"
        model = torch.ao.quantization.quantize_dynamic(build_model(size), {torch.nn.Linear}, dtype=torch.qint8)
        return _eager(model), ""

    def bf16():
        return _eager(build_model(size), fast=True), ""

    def onnx():
        if DEVICE.type != "cpu":
            return None, "CPU arm"
        if importlib.util.find_spec("onnxruntime") is None:
            return None, "not installed"
        return _onnx(build_model(size)), ""

    return {"fp32": fp32, "eager-attn": eager_attn, "compile": compiled, "int8": int8, FAST_ARM: bf16,
            "onnx": onnx, "batch4": fp32}


@torch.no_grad()
def run_arm(fwd: Forward, feats: list[torch.Tensor], batch: int) -> tuple[float, list[np.ndarray], float]:
    """(RTF, per-clip frame logits (T_i, C), seconds of the first, warm-up forward)."""
    t = time.perf_counter()
    fwd(torch.cat(feats[:batch]))
    warm = time.perf_counter() - t
    out: list[np.ndarray] = []
    t = time.perf_counter()
    for b in range(0, len(feats), batch):
        out.extend(fwd(torch.cat(feats[b: b + batch])).numpy())  # .numpy() waits for the device
    rtf = (time.perf_counter() - t) / (30.0 * len(feats))
    return rtf, out, warm


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def compare(logits: list[np.ndarray], ref: list[np.ndarray], n_valid: list[int]) -> tuple[float, float]:
    """(max |p − p_ref| over valid frames, share of clips with the same clip top class)."""
    triples = list(zip(logits, ref, n_valid, strict=True))
    diff = max(float(np.abs(_softmax(a[:n]) - _softmax(r[:n])).max()) for a, r, n in triples)
    agree = np.mean([a[:n].mean(0).argmax() == r[:n].mean(0).argmax() for a, r, n in triples])
    return diff, float(agree)


def bench_size(size: str, clips: list[np.ndarray], only: list[str] | None = None) -> dict[str, dict]:
    """Every arm on ``clips``; returns arm -> {rtf, max_prob_diff, top_agree, warmup_s, note}."""
    probe = build_model("tiny")
    feats = [probe.features([c]) for c in clips]  # the features are the same for every size (80 mels)
    n_valid = [valid_frames(len(c), probe.n_frames) for c in clips]
    results: dict[str, dict] = {}
    ref = None
    for name, builder in arms(size).items():
        if only and name not in only and name != "fp32":
            continue
        fwd, note = builder()
        if fwd is None:
            results[name] = {"note": note}
            print(f"  {size:6s} {name:10s} {note}", flush=True)
            continue
        rtf, logits, warm = run_arm(fwd, feats, 4 if name == "batch4" else 1)
        ref = logits if name == "fp32" else ref
        diff, agree = compare(logits, ref, n_valid)
        results[name] = {"rtf": rtf, "max_prob_diff": diff, "top_agree": agree, "warmup_s": warm, "note": note}
        speed = results["fp32"]["rtf"] / rtf
        print(f"  {size:6s} {name:10s} RTF {rtf:.4f} ({speed:4.2f}x fp32)  max|dp| {diff:.4f}  top agree {agree:.3f}"
              f"  first call {warm:.1f} s", flush=True)
    return results


def main(argv: list[str] | None = None) -> dict[str, dict[str, dict]]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", "--sizes", nargs="+", dest="sizes", default=["tiny", "base"], choices=list(SIZES))
    ap.add_argument("--clips", type=int, default=16, help="generated clips scored by every arm")
    ap.add_argument("--arms", nargs="+", default=None, help="only these arms (fp32 always runs)")
    ap.add_argument("--device", default="cpu", help="cpu | cuda (int8 and ONNX are CPU arms)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    args = ap.parse_args(argv)
    global DEVICE
    DEVICE = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    clips = make_clips(args.clips)
    print(f"inference arms, {DEVICE}, torch {torch.__version__}, {torch.get_num_threads()} threads, {args.clips} clips "
          f"(one 30 s window each)")
    out = {size: bench_size(size, clips, args.arms) for size in args.sizes}
    for size, r in out.items():
        fast = r.get(FAST_ARM, {})
        if "rtf" in fast:
            print(f"{size} fp32_rtf={r['fp32']['rtf']:.4f} fast_rtf={fast['rtf']:.4f} "
                  f"max_prob_diff={fast['max_prob_diff']:.4f} top_agree={fast['top_agree']:.3f}")
    return out


if __name__ == "__main__":
    main()
