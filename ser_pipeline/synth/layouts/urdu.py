"""Synthetic URDU: four emotion folders, unpadded numbers, mono 44.1 kHz."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ser_pipeline.corpora.urdu import LETTER
from ser_pipeline.synth.voice import make_speaker, render, stable_seed

PROFILE = {"Angry": "anger", "Happy": "happiness", "Neutral": "neutral", "Sad": "sadness"}
SAMPLE_RATE = 44100


def write(out: Path, *, seed: int, speakers: int | None, per_class: int) -> None:
    """``per_class`` files per emotion and speaker; speakers alternate SM/SF."""
    for k in range(1, (speakers or 3) + 1):
        gender = "M" if k % 2 else "F"
        spk = f"S{gender}{k}"
        voice = make_speaker(seed, f"urdu/{spk}", gender)
        f = 0
        for folder, letter in LETTER.items():
            for i in range(1, per_class + 1):
                f += 1
                stem = f"{spk}_F{f}_{letter}{i:02d}{'0' if f >= 10 else ''}"
                s = stable_seed(seed, "urdu", stem)
                render(out / folder / f"{stem}.wav", PROFILE[folder], voice,
                       float(np.random.default_rng(s).uniform(1.0, 3.0)), SAMPLE_RATE, s)
