"""Input pipeline throughput: seconds of audio delivered per second, augmentations on.

Arms, measured in this run on the same generated corpus, once at 48 kHz (RAVDESS layout) and once
at 44.1 kHz (SAVEE layout):
  * baseline: clips decoded from the original 48 / 44.1 kHz files and resampled (soxr HQ) per clip;
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
from ser_pipeline.audio.clips import ClipDataset
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
    # (corpus layout, its sample rate, synth options): 48 kHz and 44.1 kHz sources
    arms = [("ravdess", 48000, {"speakers": args.speakers, "per_class": args.clips_per_class}),
            # SAVEE has 4 speakers and shorter clips: 5.5x the files per class gives about the same hours
            ("savee", 44100, {"speakers": 4, "per_class": round(5.5 * args.clips_per_class)})]
    WaveformAugmenter(AugmentConfig())(np.zeros(16000, np.float32), seed=0)  # warm librosa's lazy import
    for name, rate, options in arms:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / name
            synth_corpus(name, root, **options)
            m, _ = read_corpus(name, root)
            assert set(m["sample_rate"]) == {rate}, (name, set(m["sample_rate"]))
            table = add_soft_labels(m, corpus_mean_intensity(m))
            build_corpus_cache(table, root, Path(tmp) / "cache" / name)
            original = ClipDataset(table, {name: root}).wave
            cached = ClipDataset(table, {name: root}, cache=AudioCache(Path(tmp) / "cache", [name])).wave
            hours = table["duration_s"].sum() / 3600
            khz = f"{rate / 1000:g} kHz"
            print(f"input pipeline: {len(table)} {name} clips ({hours:.2f} h) at {khz}, augmentations on, 30 s windows")
            for w in args.workers:
                base = throughput(table, original, w, args.epochs)
                ours = throughput(table, cached, w, args.epochs)
                print(f"  {w} worker(s): baseline original {khz} files {base:8.0f} s audio/s ({base / w:7.0f} per worker);"
                      f" ours from cache {ours:8.0f} s audio/s ({ours / w:7.0f} per worker); ratio {ours / base:.2f}x")

if __name__ == "__main__":
    main()
