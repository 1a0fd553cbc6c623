"""Log-mel speed and equality: ours (batched torch path on the training device) vs transformers'
numpy path and its per-call torch path, on the same 30 s windows, measured in this run.

    python benchmarks/logmel.py --batch 32 [--device cuda]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from ser_pipeline.audio.features import feature_extractor, log_mel


def best(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    waves = [(0.1 * rng.standard_normal(480000)).astype(np.float32) for _ in range(args.batch)]
    fe = feature_extractor(80)
    batch = np.stack(waves)
    ours = log_mel(waves, device=args.device).cpu().numpy()
    ref_np = np.stack([fe._np_extract_fbank_features(w[None], "cpu")[0] for w in waves])
    t_np = best(lambda: [fe._np_extract_fbank_features(w[None], "cpu") for w in waves], args.repeats)
    t_torch = best(lambda: fe(waves, sampling_rate=16000, return_tensors="np"), args.repeats)
    t_ours = best(lambda: log_mel(waves, device=args.device), args.repeats)
    diff = float(np.abs(ours - ref_np).max())
    audio_s = 30.0 * args.batch
    print(f"log-mel, {args.batch} × 30 s windows, device {args.device}")
    print(f"  baseline transformers numpy path : {t_np:7.3f} s  ({audio_s / t_np:8.0f} s audio/s)")
    print(f"  transformers __call__ (torch)    : {t_torch:7.3f} s  ({audio_s / t_torch:8.0f} s audio/s)")
    print(f"  ours (batched torch, {args.device:4s})      : {t_ours:7.3f} s  ({audio_s / t_ours:8.0f} s audio/s)")
    print(f"  speed-up vs numpy path: {t_np / t_ours:.2f}x; vs __call__: {t_torch / t_ours:.2f}x")
    print(f"  max |ours - numpy path| = {diff:.2e}")
    del batch


if __name__ == "__main__":
    main()
