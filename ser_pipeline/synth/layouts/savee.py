"""Synthetic SAVEE: ``AudioData/<spk>/<e><nn>.wav`` at 44.1 kHz plus ``AudioData/Info.txt``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ser_pipeline.corpora.savee import SPEAKERS
from ser_pipeline.synth.voice import make_speaker, render, stable_seed

EMOTIONS = {"a": "anger", "d": "disgust", "f": "fear", "h": "happiness", "n": "neutral",
            "sa": "sadness", "su": "surprise"}
SAMPLE_RATE = 44100

INFO = """Surrey Audio-Visual Expressed Emotion (SAVEE) Database
Audio files consist of audio WAV files sampled at 44.1 kHz.
There are 15 sentences for each of the 7 emotion categories.
The initial letter(s) of the file name represents the emotion class, and the following digits
represent the sentence number.
The letters 'a', 'd', 'f', 'h', 'n', 'sa' and 'su' represent 'anger', 'disgust', 'fear',
'happiness', 'neutral', 'sadness' and 'surprise' emotion classes respectively.
"""


def write(out: Path, *, seed: int, speakers: int | None, per_class: int) -> None:
    """``per_class`` files per emotion and speaker, neutral twice as many (as in the corpus)."""
    spk_ids = SPEAKERS[: speakers or 2]
    (out / "AudioData").mkdir(parents=True, exist_ok=True)
    (out / "AudioData" / "Info.txt").write_text(INFO)
    for spk in spk_ids:
        voice = make_speaker(seed, f"savee/{spk}", "M")
        for code, emo in EMOTIONS.items():
            n = 2 * per_class if code == "n" else per_class
            for i in range(1, n + 1):
                stem = f"{code}{i:02d}"
                s = stable_seed(seed, "savee", spk, stem)
                dur = float(np.random.default_rng(s).uniform(1.2, 2.5))
                render(out / "AudioData" / spk / f"{stem}.wav", emo, voice, dur, SAMPLE_RATE, s)
