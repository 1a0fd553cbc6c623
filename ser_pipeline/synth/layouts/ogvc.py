"""Synthetic OGVC: the acted part as distributed and the natural part as the reader assumes.

- ``OGVC/Acted/wav/<F1|M1|F2|M2>/<EMO>/<G><II><text><EMO><n>.wav``: mono 48 kHz; for speaker k,
  code index c (JOY ACC FEA SUR SAD DIS ANG ANT) and take i the intensity is (c + i) % 4, and the
  voice is rendered at strength n/3 (n = 0 -> neutral prosody).
- ``OGVC/Natural/wav/<S01..>/<S01>_<nnnn>.wav``: **stereo** 16 kHz (the chat recordings are
  2-channel), ``per_class`` clips per code (the 10 codes) per speaker, labelled in
  ``OGVC/Natural/label/emotion_label.txt`` by 3 raters: all agree, except that every third clip
  (running index n % 3 == 0) gets a third vote for the next code in the list.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ser_pipeline.synth.voice import make_speaker, render, stable_seed

ACTED_CODES = ("JOY", "ACC", "FEA", "SUR", "SAD", "DIS", "ANG", "ANT")
NATURAL_CODES = ACTED_CODES + ("NEU", "OTH")
PROFILE = {"JOY": "happiness", "ACC": "neutral", "FEA": "fear", "SUR": "surprise", "SAD": "sadness",
           "DIS": "disgust", "ANG": "anger", "ANT": "other", "NEU": "neutral", "OTH": "other"}
#: acted folder -> file-name speaker prefix (gender + initials)
ACTED_SPEAKERS = {"F1": "FOY", "M1": "MKT", "F2": "FYM", "M2": "MSR"}
ACTED_RATE, NATURAL_RATE = 48000, 16000


def _dur(s: int) -> float:
    return float(np.random.default_rng(s).uniform(1.0, 2.0))


def write(out: Path, *, seed: int, speakers: int | None, per_class: int) -> None:
    """``speakers`` acted and natural speakers each (default 2); ``per_class`` per code and speaker."""
    n_spk = speakers or 2
    for folder, prefix in list(ACTED_SPEAKERS.items())[:n_spk]:
        voice = make_speaker(seed, f"ogvc/{prefix}", prefix[0])
        for c, code in enumerate(ACTED_CODES):
            for i in range(per_class):
                level = (c + i) % 4
                stem = f"{prefix}{c + 1:02d}{i + 1:02d}{code}{level}"
                s = stable_seed(seed, "ogvc", stem)
                # ACC (acceptance) is rendered as a mild neutral, ANT (anticipation) as "other"
                render(out / "OGVC" / "Acted" / "wav" / folder / code / f"{stem}.wav", PROFILE[code],
                       voice, _dur(s), ACTED_RATE, s, strength=level / 3.0)
    lines = ["#file\trater1\trater2\trater3"]
    for k in range(n_spk):
        spk = f"S{k + 1:02d}"
        voice = make_speaker(seed, f"ogvc/{spk}")
        n = 0
        for c, code in enumerate(NATURAL_CODES):
            for _ in range(per_class):
                stem = f"{spk}_{n + 1:04d}"
                third = NATURAL_CODES[(c + 1) % len(NATURAL_CODES)] if n % 3 == 0 else code
                lines.append(f"{stem}\t{code}\t{code}\t{third}")
                s = stable_seed(seed, "ogvc", stem)
                render(out / "OGVC" / "Natural" / "wav" / spk / f"{stem}.wav", PROFILE[code], voice,
                       _dur(s), NATURAL_RATE, s, channels=2)
                n += 1
    label = out / "OGVC" / "Natural" / "label" / "emotion_label.txt"
    label.parent.mkdir(parents=True, exist_ok=True)
    label.write_text("\n".join(lines) + "\n", encoding="utf-8")
