"""Input pipeline throughput: seconds of audio delivered per second, augmentations on.

Arms, measured in this run on the same generated 48 kHz corpus (RAVDESS layout):
  * baseline: clips decoded from the original 48 kHz files and resampled (soxr HQ) per clip;
  * ours: clips read from the audio cache (16 kHz int16 shards, memory-mapped);
each through PackedWindowStream (Algorithm 1 packing, waveform augmentation p = 0.2 each, window
assembly), with 1..N persistent DataLoader workers (the training loader, ``window_loader``) over
several epochs. Log-mel runs on the training device and is not counted.

    python benchmarks/input_pipeline.py --workers 1 2 --clips-per-class 4
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from ser_pipeline.audio.augment import AugmentConfig, WaveformAugmenter
from ser_pipeline.audio.cache import AudioCache, build_corpus_cache
from ser_pipeline.corpora import read_corpus
from ser_pipeline.labels.harmonize import add_soft_labels, corpus_mean_intensity
from ser_pipeline.synth import synth_corpus
from ser_pipeline.training.data import ClipDataset
from ser_pipeline.training.packed_data import PackedWindowStream, window_loader


def throughput(table, wave_fn, workers: int, epochs: int) -> float:
    """Seconds of (pre-augmentation) audio delivered per wall second."""
    soft = table[[c for c in table.columns if c.startswith("soft_")]].to_numpy()
    stream = PackedWindowStream(table["duration_s"].to_numpy(), soft, np.zeros(len(table)), wave_fn,
                                batch_size=4, window_s=30.0, augmenter=WaveformAugmenter(AugmentConfig()))
    loader = window_loader(stream, num_workers=workers, persistent_workers=True)  # as in training
    audio_s = 0.0
    t = time.perf_counter()
    for epoch in range(epochs):
        stream.set_epoch(epoch)
        for batch in loader:
            audio_s += float(table["duration_s"].to_numpy()[batch["clips"].numpy()].sum())
    return audio_s / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--speakers", type=int, default=6)
    ap.add_argument("--clips-per-class", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ravdess"
        synth_corpus("ravdess", root, speakers=args.speakers, per_class=args.clips_per_class)
        m, _ = read_corpus("ravdess", root)
        table = add_soft_labels(m, corpus_mean_intensity(m))
        build_corpus_cache(table, root, Path(tmp) / "cache" / "ravdess")
        original = ClipDataset(table, {"ravdess": root}).wave
        cached = ClipDataset(table, {"ravdess": root}, cache=AudioCache(Path(tmp) / "cache", ["ravdess"])).wave
        WaveformAugmenter(AugmentConfig())(np.zeros(16000, np.float32), seed=0)  # warm librosa's lazy import
        hours = table["duration_s"].sum() / 3600
        print(f"input pipeline: {len(table)} clips ({hours:.2f} h) at 48 kHz, augmentations on, 30 s windows")
        for w in args.workers:
            base = throughput(table, original, w, args.epochs)
            ours = throughput(table, cached, w, args.epochs)
            print(f"  {w} worker(s): baseline original 48 kHz files {base:8.0f} s audio/s ({base / w:7.0f} per worker);"
                  f" ours from cache {ours:8.0f} s audio/s ({ours / w:7.0f} per worker); ratio {ours / base:.2f}x")


if __name__ == "__main__":
    main()
