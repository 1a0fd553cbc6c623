"""Corpus scan speed: files per second with 1 vs N probing processes, and memory per file.

Baseline: the same reader with one process (probing in-process, sequential), measured in this run,
interleaved with the N-process runs (best of ``--repeats`` each). Also printed, as the ceiling
the machine allows: header probing alone (no label parsing) split over N processes. The corpus is
a user manifest of >= 20,000 short WAVs at mixed rates (written once, then copied, so generating
it takes seconds). ``--memory`` adds the growth of peak RSS with the number of files: scans of
32,000, 64,000 and 128,000 files (each in a fresh process, streamed to Parquet as the corpus asset
does), with the default in-memory bookkeeping cap (``SER_SCAN_MEMORY_KEYS``) and with a small one,
plus the 1-process scan time with that small cap (every lookup past it goes to disk).

    python benchmarks/scan.py --files 20000 --workers 2 [--memory]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from ser_pipeline.corpora import read_corpus
from ser_pipeline.corpora.base import ScanSettings
from ser_pipeline.corpora.probe import probe_chunk


MEMORY_SIZES = (32000, 64000, 128000)
SMALL_CAP = 4096


def make_corpus(root: Path, n_files: int, seconds: float = 0.5) -> None:
    """``n_files`` WAVs of ``seconds`` under ``audio/<speaker>/`` plus ``manifest.csv`` (labels
    cycle) and ``first<n>.csv`` (its first n rows) for each n of :data:`MEMORY_SIZES` below
    ``n_files``."""
    seeds = []
    for i, sr in enumerate((16000, 22050, 44100, 48000)):
        p = root / f"seed{i}.wav"
        sf.write(p, (0.1 * np.random.default_rng(i).standard_normal(int(sr * seconds))).astype(np.float32), sr,
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
    for n in MEMORY_SIZES:
        if n < n_files:
            (root / f"first{n}.csv").write_text("\n".join(lines[:n + 1]) + "\n")


def timed_scan(root: Path, workers: int, **settings) -> tuple[float, int]:
    t = time.perf_counter()
    manifest, rejects = read_corpus("manifest", root, scan=ScanSettings(workers=workers, **settings))
    return time.perf_counter() - t, len(manifest) + len(rejects)


def probe_only(paths: list[str], workers: int) -> float:
    """Seconds to probe ``paths`` split evenly over ``workers`` processes (no parsing, no rows)."""
    if workers == 1:
        t = time.perf_counter()
        probe_chunk(paths)
        return time.perf_counter() - t
    with mp.get_context("fork").Pool(workers) as pool:
        pool.map(abs, range(workers))  # started before the clock
        t = time.perf_counter()
        pool.map(probe_chunk, [paths[i::workers] for i in range(workers)])
        return time.perf_counter() - t


_MEMORY_CHILD = """
import sys, tempfile
from ser_pipeline.corpora import read_corpus_to_parquet

def hwm():  # peak RSS of this process image (VmHWM resets at exec; ru_maxrss does not)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024

before = hwm()
with tempfile.TemporaryDirectory() as out:
    read_corpus_to_parquet("manifest", sys.argv[1], out + "/m.parquet", manifest_file=sys.argv[2])
print(hwm() - before)
"""


def peak_growth(root: Path, manifest: str, memory_keys: int | None = None) -> int:
    """Peak RSS growth in bytes of one scan streamed to Parquet (the asset's path), fresh process."""
    env = {**os.environ, "SER_SCAN_WORKERS": "1"}
    if memory_keys is not None:
        env["SER_SCAN_MEMORY_KEYS"] = str(memory_keys)
    out = subprocess.run([sys.executable, "-c", _MEMORY_CHILD, str(root), manifest], check=True,
                         capture_output=True, text=True, env=env)
    return int(out.stdout.strip())


def memory_growth() -> tuple[dict, dict]:
    """Peak RSS growth (bytes) per corpus size of :data:`MEMORY_SIZES`, with the default cap
    and with :data:`SMALL_CAP`; short files (0.05 s), as only the number of files matters here."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_corpus(root, MEMORY_SIZES[-1], seconds=0.05)
        names = {n: f"first{n}.csv" for n in MEMORY_SIZES[:-1]} | {MEMORY_SIZES[-1]: "manifest.csv"}
        default = {n: peak_growth(root, m) for n, m in names.items()}
        small = {n: peak_growth(root, m, SMALL_CAP) for n, m in names.items()}
    return default, small


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--memory", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_corpus(root, args.files)
        timed_scan(root, 1)  # warm the page cache so both arms read from memory
        one, many = [], []
        for _ in range(args.repeats):
            one.append(timed_scan(root, 1)[0])
            many.append(timed_scan(root, args.workers)[0])
        one_s, many_s = min(one), min(many)
        paths = sorted(str(p) for p in root.glob("audio/*/*.wav"))
        p1 = min(probe_only(paths, 1) for _ in range(2))
        pn = min(probe_only(paths, args.workers) for _ in range(2))
        spill_s = None
        if args.memory:  # the cost of the on-disk bookkeeping: every key past a small cap
            spill_s = min(timed_scan(root, 1, memory_keys=SMALL_CAP)[0] for _ in range(3))
    mem = memory_growth() if args.memory else None
    print(f"corpus scan, {args.files} files (header probes + manifest parsing + table)")
    print(f"  baseline 1 process  : {one_s:7.2f} s  {args.files / one_s:9.0f} files/s")
    print(f"  ours {args.workers} processes   : {many_s:7.2f} s  {args.files / many_s:9.0f} files/s")
    print(f"  speed-up: {one_s / many_s:.2f}x")
    print(f"  ceiling, header probing alone: 1 process {p1:.2f} s, {args.workers} processes {pn:.2f} s "
          f"= {p1 / pn:.2f}x")
    if mem is not None:
        from ser_pipeline.corpora.keyset import DEFAULT_MEMORY_KEYS

        print(f"  bookkeeping on disk past {SMALL_CAP} keys: 1 process {spill_s:.2f} s "
              f"({spill_s / one_s:.2f}x the default's time)")
        print("  memory, peak RSS growth of a 1-process scan streamed to Parquet (fresh process each):")
        for label, growth in ((f"default cap ({DEFAULT_MEMORY_KEYS} keys)", mem[0]), (f"cap {SMALL_CAP} keys", mem[1])):
            sizes = ", ".join(f"{n} files {b / 1e6:.1f} MB" for n, b in growth.items())
            (a, ga), (b, gb) = list(growth.items())[-2:]
            print(f"    {label:<26}: {sizes}; last doubling {(gb - ga) / (b - a):.0f} bytes per file")


if __name__ == "__main__":
    main()
