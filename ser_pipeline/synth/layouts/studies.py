"""Synthetic STUDIES: dialogue subsets with ``txt/`` transcripts (speaker|emotion|text|n) and
``wav/`` files named by speaker and turn, 48 kHz."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ser_pipeline.synth.voice import make_speaker, render, stable_seed

EMOTIONS = {"平静": "neutral", "喜び": "happiness", "悲しみ": "sadness", "怒り": "anger"}
SPEAKERS = (("講師", "Teacher", "F"), ("女子生徒", "FStudent", "F"), ("男子生徒", "MStudent", "M"))


def write(out: Path, *, seed: int, speakers: int | None, per_class: int) -> None:
    """Two long-dialogue subsets; each speaker says ``per_class`` lines per emotion in each."""
    for subset in ("LD01", "LD02"):
        base = out / "Long_dialogue" / subset
        lines = []
        turn = {s[1]: 0 for s in SPEAKERS}
        for jp, token, g in SPEAKERS[: speakers or 3]:
            voice = make_speaker(seed, f"studies/{token}", g)
            for emo, profile in EMOTIONS.items():
                for _ in range(per_class):
                    turn[token] += 1
                    name = f"{subset}-Dialogue-01-{token}-Turn-{turn[token]:02d}.wav"
                    s = stable_seed(seed, "studies", name)
                    render(base / "wav" / name, profile, voice, float(np.random.default_rng(s).uniform(1.5, 3.0)),
                           48000, s)
                    lines.append(f"{jp}|{emo}|テキスト{turn[token]}|0")
        (base / "txt").mkdir(parents=True, exist_ok=True)
        (base / "txt" / f"{subset}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
