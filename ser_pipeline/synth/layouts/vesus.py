"""Synthetic VESUS: ``Audio/<actor>/<intended emotion>/...wav`` and ``Tools/VESUS_Key.csv`` with
10 crowd ids per file (mostly the intended emotion, some disagreement)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ser_pipeline.synth.voice import make_speaker, render, stable_seed

INTENDED = {"Neutral": ("neutral", 0), "Angry": ("anger", 1), "Happy": ("happiness", 2), "Sad": ("sadness", 3),
            "Fearful": ("fear", 4)}


def write(out: Path, *, seed: int, speakers: int | None, per_class: int) -> None:
    """``per_class`` phrases per intended emotion and actor, 44.1 kHz."""
    rows = [["File Path", "Actor", "Actor Dialog", "Phrase", "Type", "Actor Confidence", "Crowd Count",
             "Crowd Emotion", "Crowd Intensity"]]
    for k in range(1, (speakers or 3) + 1):
        actor = f"Actor{k:02d}"
        voice = make_speaker(seed, f"vesus/{actor}")
        for emo, (profile, cid) in INTENDED.items():
            for p in range(1, per_class + 1):
                rel = f"{actor}/{emo}/{actor}_{emo}_{p:03d}.wav"
                s = stable_seed(seed, "vesus", rel)
                rng = np.random.default_rng(s)
                render(out / "Audio" / rel, profile, voice, float(rng.uniform(1.0, 2.5)), 44100, s)
                ids = [cid if rng.random() < 0.7 else int(rng.integers(0, 5)) for _ in range(10)]
                rows.append([rel, actor, f"phrase {p}", str(p), "neutral", str(int(rng.integers(5, 10))), "10",
                             str(ids), str([int(x) for x in rng.integers(1, 6, 10)])])
    (out / "Tools").mkdir(parents=True, exist_ok=True)
    with (out / "Tools" / "VESUS_Key.csv").open("w", newline="") as f:
        csv.writer(f).writerows(rows)
