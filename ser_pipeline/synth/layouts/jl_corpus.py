"""Synthetic JL-Corpus: ``Raw JL corpus (unchecked and unannotated)/JL(wav+txt)/<name>.{wav,txt}``
at 44.1 kHz, plus the top-level README and ``Format_Intro.txt``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ser_pipeline.synth.voice import make_speaker, render, stable_seed

SPEAKERS = ("female1", "male1", "female2", "male2")
#: emotion word -> (voice profile, strength)
EMOTIONS = {
    "angry": ("anger", 1.0), "sad": ("sadness", 1.0), "neutral": ("neutral", 1.0),
    "happy": ("happiness", 1.0), "excited": ("happiness", 1.2), "anxious": ("fear", 1.0),
    "apologetic": ("sadness", 0.5), "assertive": ("other", 1.0), "concerned": ("fear", 0.5),
    "encouraging": ("happiness", 0.5),
}
SENTENCES = tuple(f"{n}{c}" for n in range(1, 16) for c in "ab")
TEXTS = ("Carl leaps into a jeep.", "Tom ate a ripe apple.", "Jack put the apple on the desk.")
SAMPLE_RATE = 44100
RAW = "Raw JL corpus (unchecked and unannotated)"

FORMAT_INTRO = """Naming format: (Gender)(speaker.ID)_(Emotion)_(Sentence.ID)(session.ID)
e.g. female1_angry_10a_1.wav
Format: 44,100 Hz, 16 bit PCM, mono, wav.
"""


def write(out: Path, *, seed: int, speakers: int | None, per_class: int) -> None:
    """``per_class`` files per emotion and speaker: sentence i//2, session i%2 + 1."""
    data = out / RAW / "JL(wav+txt)"
    data.mkdir(parents=True, exist_ok=True)
    (out / "README.md").write_text("# JL-Corpus\nPlease cite James et al. 2018.\n")
    (out / RAW / "Format_Intro.txt").write_text(FORMAT_INTRO)
    for spk in SPEAKERS[: speakers or 2]:
        voice = make_speaker(seed, f"jl_corpus/{spk}", "F" if spk.startswith("female") else "M")
        for word, (emo, strength) in EMOTIONS.items():
            for i in range(per_class):
                stem = f"{spk}_{word}_{SENTENCES[(i // 2) % len(SENTENCES)]}_{i % 2 + 1}"
                s = stable_seed(seed, "jl_corpus", stem)
                dur = float(np.random.default_rng(s).uniform(1.2, 2.4))
                render(data / f"{stem}.wav", emo, voice, dur, SAMPLE_RATE, s, strength)
                (data / f"{stem}.txt").write_text(TEXTS[s % len(TEXTS)] + "\n")
