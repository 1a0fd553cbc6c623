"""Synthetic MASC: ``data/<speaker>/<state>/*.wav`` at 22,050 Hz (neutral has extra paragraphs)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ser_pipeline.synth.voice import make_speaker, render, stable_seed

PROFILE = {"neutral": "neutral", "anger": "anger", "elation": "happiness", "panic": "fear", "sadness": "sadness"}
SAMPLE_RATE = 22050


def write(out: Path, *, seed: int, speakers: int | None, per_class: int) -> None:
    """``per_class`` items per state and speaker, plus one paragraph per speaker in neutral."""
    for k in range(1, (speakers or 3) + 1):
        spk = f"{k:03d}"
        voice = make_speaker(seed, f"masc/{spk}")
        for state, profile in PROFILE.items():
            names = [f"{spk}_{state}_s{i:02d}_1" for i in range(1, per_class + 1)]
            if state == "neutral":
                names.append(f"{spk}_neutral_p01")
            for name in names:
                s = stable_seed(seed, "masc", name)
                render(out / "data" / spk / state / f"{name}.wav", profile, voice,
                       float(np.random.default_rng(s).uniform(1.0, 2.5)), SAMPLE_RATE, s)
