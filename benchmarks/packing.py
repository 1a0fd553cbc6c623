"""Benchmark one pass of Algorithm 1 over Table 1's training clips (paper §2.1, §2.4).

Durations are drawn per corpus from a log-normal with the corpus's mean duration (Table 1, the
zero-shot sets EMO-DB, AESDD, URDU and MASC excluded): 309,355 clips. The packer
(:func:`ser_pipeline.audio.packing.pack_windows`) is timed against the straightforward
sorted list + bisect + list.pop baseline in the same run, on one core.

    PYTHONPATH=$PWD python benchmarks/packing.py [--sigma 0.5] [--repeat 3] [--no-baseline]
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np

from ser_pipeline.audio.packing import clip_frames, pack_windows, pack_windows_baseline

#: Table 1 training corpora: (samples, mean duration in seconds).
TABLE1_TRAIN: dict[str, tuple[int, float]] = {
    "CMU_MOSEI": (23258, 7.66), "CREMA-D": (7442, 2.54), "EmoV-DB": (6893, 4.96),
    "IEMOCAP": (9866, 4.46), "JL_CORPUS": (2227, 2.12), "MSP-PODCAST": (104096, 5.74),
    "MSP_IMPROV": (8265, 4.08), "Proprietary": (63723, 2.87), "RAVDESS": (2452, 4.09),
    "SAVEE": (480, 3.84), "TESS": (2800, 2.06), "VESUS": (14868, 1.73), "ESD": (34827, 2.99),
    "AVSP": (13618, 4.61), "OGVC": (8851, 1.56), "STUDIES": (5689, 5.7),
}


def table1_durations(seed: int = 0, sigma: float = 0.5, scale: float = 1.0) -> np.ndarray:
    """Synthetic durations (seconds), (309,355·scale,): log-normal per corpus with Table 1's mean.

    ``sigma`` is the log-space spread (0.5: about 1 clip in 200 is over 3× its corpus mean).
    """
    rng = np.random.default_rng(seed)
    parts = []
    for n, mean in TABLE1_TRAIN.values():
        n = max(1, int(round(n * scale)))
        mu = np.log(mean) - sigma**2 / 2  # E[exp(N(mu, sigma²))] = mean
        parts.append(rng.lognormal(mu, sigma, n))
    return np.concatenate(parts)


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def fill_stats(windows: list[list[int]], durations: np.ndarray, window_s: float, fill: float) -> dict:
    """Windows, share filled to >= fill·L, mean fill, counted in the frames clips occupy (50 Hz)."""
    n_frames = int(round(window_s * 50))
    f = clip_frames(durations, n_frames)
    used = np.array([f[w].sum() for w in windows])
    return {"windows": len(windows), "filled_share": round(float((used >= fill * n_frames).mean()), 5),
            "mean_fill": round(float(used.mean() / n_frames), 4)}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sigma", type=float, default=0.5)
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of Table 1's clip count")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--window-s", type=float, default=30.0)
    ap.add_argument("--no-baseline", action="store_true")
    args = ap.parse_args(argv)
    d = table1_durations(sigma=args.sigma, scale=args.scale)
    windows = pack_windows(d, args.window_s)
    ours = _best(lambda: pack_windows(d, args.window_s, seed=1), args.repeat)
    out = {"clips": len(d), "total_h": round(float(d.sum()) / 3600, 1), "ours_s": round(ours, 3),
           **fill_stats(windows, d, args.window_s, 0.8),
           "machine": f"{platform.processor() or platform.machine()}, {platform.python_implementation()} "
                      f"{platform.python_version()}"}
    if not args.no_baseline:
        base = _best(lambda: pack_windows_baseline(d, args.window_s, seed=1), 1)
        out.update(baseline_s=round(base, 3), speedup=round(base / ours, 1))
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
