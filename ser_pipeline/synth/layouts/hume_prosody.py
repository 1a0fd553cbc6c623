"""Synthetic Hume-Prosody: ``wav/`` + ``lab/{train,devel,test}.csv``; targets follow the voice
profile each clip was rendered with (anger -> Anger/Determination high, sadness -> Sadness/
Tiredness high, ...), so a fine-tune can learn them; test labels left empty."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ser_pipeline.corpora.hume_prosody import TARGETS
from ser_pipeline.synth.voice import make_speaker, render, stable_seed

# profile -> the target dimensions it raises
PROFILE_TARGETS = {
    "anger": ("anger", "determination"), "sadness": ("sadness", "tiredness"), "happiness": ("excitement", "interest"),
    "neutral": ("calmness", "concentration"), "other": ("boredom", "tiredness"), "surprise": ("interest", "excitement"),
}
SAMPLE_RATE = 16000


def write(out: Path, *, seed: int, speakers: int | None, per_class: int) -> None:
    """Per split (train, devel, test): ``per_class`` clips per profile for each of ``speakers`` voices."""
    header = ["filename", *[t.capitalize() for t in TARGETS]]
    for split in ("train", "devel", "test"):
        rows = [header]
        n = 0
        for k in range(speakers or 2):
            voice = make_speaker(seed, f"hume/{split}/{k}")
            for profile, high in PROFILE_TARGETS.items():
                for _ in range(per_class):
                    n += 1
                    name = f"{split}_{n:05d}.wav"
                    s = stable_seed(seed, "hume", name)
                    rng = np.random.default_rng(s)
                    strength = float(rng.uniform(0.5, 1.0))
                    render(out / "wav" / name, profile, voice, float(rng.uniform(1.5, 3.0)), SAMPLE_RATE, s, strength)
                    values = rng.uniform(0.0, 0.25, len(TARGETS))
                    for t in high:
                        values[TARGETS.index(t)] = 0.4 + 0.5 * strength
                    rows.append([name, *(["" for _ in TARGETS] if split == "test" else [f"{v:.4f}" for v in values])])
        (out / "lab").mkdir(parents=True, exist_ok=True)
        with (out / "lab" / f"{split}.csv").open("w", newline="") as f:
            csv.writer(f).writerows(rows)
