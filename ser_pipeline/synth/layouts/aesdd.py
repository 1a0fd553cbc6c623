"""Synthetic AESDD: five emotion folders, names with spaces and parentheses, a/b takes, (01)
padding, and the distribution's unreadable ``sadness/s05 (3).wav``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ser_pipeline.corpora.aesdd import FOLDERS
from ser_pipeline.synth.voice import make_speaker, render, stable_seed

SAMPLE_RATE = 44100


def write(out: Path, *, seed: int, speakers: int | None, per_class: int) -> None:
    """``per_class`` utterances per emotion and speaker (speaker 1 written ``(01)``; speaker 2's
    first anger utterance has an extra ``b`` take)."""
    for k in range(1, (speakers or 3) + 1):
        voice = make_speaker(seed, f"aesdd/{k}")
        for folder, letter in FOLDERS.items():
            for u in range(1, per_class + 1):
                spk = f"{k:02d}" if k == 1 else str(k)
                names = [f"{letter}{u:02d} ({spk})"] + ([f"{letter}{u:02d} ({spk})b"] if (k, letter, u) == (2, "a", 1) else [])
                for name in names:
                    s = stable_seed(seed, "aesdd", name)
                    render(out / folder / f"{name}.wav", folder, voice, float(np.random.default_rng(s).uniform(1.5, 3.5)),
                           SAMPLE_RATE, s)
    (out / "sadness").mkdir(parents=True, exist_ok=True)
    (out / "sadness" / "s05 (3).wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt ")  # truncated header
