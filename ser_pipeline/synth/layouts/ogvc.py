"""Synthetic OGVC acted part: ``Acted/wav/<F1|F2|M1|M2>/<subdir>/`` names with emotion and intensity
0-3, some files stereo (two-channel source recordings), 48 kHz."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ser_pipeline.synth.voice import make_speaker, render, stable_seed

PROFILE = {"JOY": "happiness", "FEA": "fear", "SUR": "surprise", "SAD": "sadness", "DIS": "disgust", "ANG": "anger",
           "ACC": "other", "ANT": "other"}
SPEAKERS = (("F1", "F", "OY"), ("M1", "M", "KT"), ("F2", "F", "MS"), ("M2", "M", "TN"))


def write(out: Path, *, seed: int, speakers: int | None, per_class: int) -> None:
    """``per_class`` texts per emotion and speaker, intensities cycling 0-3."""
    for folder, g, ini in SPEAKERS[: speakers or 2]:
        voice = make_speaker(seed, f"ogvc/{g}{ini}", g)
        for code, profile in PROFILE.items():
            for t in range(per_class):
                level = (t + len(code) + ord(code[0])) % 4
                stem = f"{g}{ini}{t + 1:02d}01{code}{level}"
                s = stable_seed(seed, "ogvc", stem)
                render(out / "Acted" / "wav" / folder / f"{code.lower()}" / f"{stem}.wav",
                       profile if level else "neutral", voice, float(np.random.default_rng(s).uniform(1.0, 2.2)), 48000,
                       s, strength=max(level, 1) / 3, channels=2 if t % 2 else 1)
