"""Synthetic EMO-DB: ``wav/<spk><text><emotion><version>.wav`` at 16 kHz plus ``erkennung.txt``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ser_pipeline.corpora.emodb import GENDER
from ser_pipeline.synth.voice import make_speaker, render, stable_seed

EMOTIONS = {"W": "anger", "A": "fear", "F": "happiness", "T": "sadness", "E": "disgust",
            "N": "neutral", "L": "sadness"}
TEXTS = ("a01", "a02", "a04", "a05", "a07", "b01", "b02", "b03", "b09", "b10")
SAMPLE_RATE = 16000


def write(out: Path, *, seed: int, speakers: int | None, per_class: int) -> None:
    """``per_class`` files per emotion letter and speaker (texts cycle, version letters count)."""
    spk_ids = sorted(GENDER)[: speakers or 4]
    lines = ["Nr\tSatz\terkannt\tnatuerlich"]
    nr = 0
    for spk in spk_ids:
        voice = make_speaker(seed, f"emodb/{spk}", GENDER[spk])
        for code, emo in EMOTIONS.items():
            for i in range(per_class):
                stem = f"{spk}{TEXTS[i % len(TEXTS)]}{code}{'abcdefghij'[i // len(TEXTS)]}"
                s = stable_seed(seed, "emodb", stem)
                dur = float(np.random.default_rng(s).uniform(1.5, 3.5))
                strength = 0.7 if code == "L" else 1.0
                render(out / "wav" / f"{stem}.wav", emo, voice, dur, SAMPLE_RATE, s, strength)
                nr += 1
                rec = 80 + (s % 20)
                lines.append(f"{nr}\t{stem}\t{rec},0\t{60 + (s % 40)},0")
    (out / "erkennung.txt").write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
