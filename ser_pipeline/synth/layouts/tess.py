"""Synthetic TESS: flat ``<spk>_<word>_<emotion>.wav`` (Dataverse) at 24,414 Hz, with
``OAF_food_fear.wav`` at 96 kHz as in the real corpus."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ser_pipeline.synth.voice import make_speaker, render, stable_seed

SPEAKERS = ("OAF", "YAF")
#: token -> (voice profile, strength); ps = pleasant surprise (surprise profile)
EMOTIONS = {"angry": ("anger", 1.0), "disgust": ("disgust", 1.0), "fear": ("fear", 1.0),
            "happy": ("happiness", 1.0), "neutral": ("neutral", 1.0), "ps": ("surprise", 1.0),
            "sad": ("sadness", 1.0)}
#: "food" first so that the 96 kHz outlier exists from per_class = 1
WORDS = ("food", "back", "bar", "base", "bath", "bean", "beg", "bite", "boat", "bone")
SAMPLE_RATE = 24414
OUTLIER = ("OAF_food_fear", 96000)


def write(out: Path, *, seed: int, speakers: int | None, per_class: int) -> None:
    """``per_class`` words per emotion and speaker (the same words for every emotion)."""
    for spk in SPEAKERS[: speakers or 2]:
        voice = make_speaker(seed, f"tess/{spk}", "F")
        for token, (emo, strength) in EMOTIONS.items():
            for i in range(per_class):
                stem = f"{spk}_{WORDS[i % len(WORDS)]}{'' if i < len(WORDS) else i}_{token}"
                s = stable_seed(seed, "tess", stem)
                dur = float(np.random.default_rng(s).uniform(1.2, 2.0))
                sr = OUTLIER[1] if stem == OUTLIER[0] else SAMPLE_RATE
                render(out / f"{stem}.wav", emo, voice, dur, sr, s, strength)
