"""Synthetic user corpus: ``audio/<speaker>/<n>.wav`` (16 and 22.05 kHz) plus ``manifest.csv``."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ser_pipeline.emotions import CLASSES
from ser_pipeline.synth.voice import make_speaker, render, stable_seed

WORDS = {"happiness": "happy", "sadness": "sad", "disgust": "disgust", "fear": "fear", "surprise": "surprise",
         "anger": "angry", "other": "other", "neutral": "neutral"}


def write(out: Path, *, seed: int, speakers: int | None, per_class: int) -> None:
    """``per_class`` clips per class and speaker, labelled with common label words."""
    rows = [["path", "label", "speaker", "language", "gender"]]
    for k in range(speakers or 3):
        spk = f"user{k:02d}"
        voice = make_speaker(seed, f"manifest/{spk}")
        for cls in CLASSES:
            for i in range(per_class):
                rel = f"audio/{spk}/{cls}_{i:03d}.wav"
                s = stable_seed(seed, "manifest", rel)
                sr = 16000 if i % 2 == 0 else 22050
                render(out / rel, cls, voice, float(np.random.default_rng(s).uniform(1.5, 3.0)), sr, s)
                rows.append([rel, WORDS[cls], spk, "en", voice.gender])
    with (out / "manifest.csv").open("w", newline="") as f:
        csv.writer(f).writerows(rows)
