"""Corpus scan speed: files per second with 1 vs N header-probe worker processes.

Baseline: the same reader with one worker (sequential probing in-process), measured in this run.
The corpus is a user manifest of >= 20,000 short WAVs at mixed rates (written once, then copied,
so generating it takes seconds).

    python benchmarks/scan.py --files 20000 --workers 2
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from ser_pipeline.corpora import read_corpus
from ser_pipeline.corpora.base import scan_settings


def make_corpus(root: Path, n_files: int) -> None:
    """``n_files`` WAVs under ``audio/<speaker>/`` plus ``manifest.csv`` (labels cycle)."""
    seeds = []
    for i, sr in enumerate((16000, 22050, 44100, 48000)):
        p = root / f"seed{i}.wav"
        sf.write(p, (0.1 * np.random.default_rng(i).standard_normal(sr // 2)).astype(np.float32), sr,
                 subtype="PCM_16")
        seeds.append(p)
    labels = ("happy", "sad", "angry", "neutral", "fear", "disgust", "surprise", "other")
    lines = ["path,label,speaker,language"]
    for k in range(n_files):
        rel = f"audio/spk{k % 100:03d}/utt{k:06d}.wav"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(seeds[k % 4], root / rel)
        lines.append(f"{rel},{labels[k % 8]},spk{k % 100:03d},en")
    (root / "manifest.csv").write_text("\n".join(lines) + "\n")


def timed_scan(root: Path, workers: int) -> tuple[float, int]:
    t = time.perf_counter()
    with scan_settings(workers=workers):
        manifest, rejects = read_corpus("manifest", root)
    return time.perf_counter() - t, len(manifest) + len(rejects)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_corpus(root, args.files)
        timed_scan(root, 1)  # warm the page cache so both arms read from memory
        one = min(timed_scan(root, 1)[0] for _ in range(args.repeats))
        many = min(timed_scan(root, args.workers)[0] for _ in range(args.repeats))
    print(f"corpus scan, {args.files} files (header probes + manifest parsing)")
    print(f"  baseline 1 worker : {one:7.2f} s  {args.files / one:9.0f} files/s")
    print(f"  ours {args.workers} workers   : {many:7.2f} s  {args.files / many:9.0f} files/s")
    print(f"  speed-up: {one / many:.2f}x")


if __name__ == "__main__":
    main()
