"""Synthetic ASVP-ESD: ``Audio/actor_<n>/<8-12 numeric fields>.wav`` and ``Bonus/actor_150/``
at 16 kHz.

Per actor: ``per_class`` files for each emotion code 01-13, intensity alternating 01/02, mostly
non-speech. Field counts vary by actor (actor_1: 9 fields, language 02; actor_2: 8 fields;
actor_3: 10 fields, language 01; actor_4: 12 fields, language 04). Quirks always written (in
actor_1 and beside it): the first 05 file of actor_1 names actor 41 (folder/name mismatch), one
file with a stray intensity ``04`` and one with emotion code ``17`` (both rejected), one file in
the number-less folder ``Audio/actor_/``, and two baby-voice files in ``Bonus/actor_150/``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ser_pipeline.synth.voice import make_speaker, render, stable_seed

#: code -> (voice profile, strength at high intensity)
EMOTIONS = {"01": ("sadness", 0.5), "02": ("neutral", 1.0), "03": ("happiness", 1.0),
            "04": ("sadness", 1.0), "05": ("anger", 1.0), "06": ("fear", 1.0), "07": ("disgust", 1.0),
            "08": ("surprise", 1.0), "09": ("happiness", 1.2), "10": ("happiness", 0.6),
            "11": ("other", 1.0), "12": ("sadness", 0.6), "13": ("other", 0.8)}
#: actor number -> trailing fields after the 8 mandatory ones
TAILS = {1: ["02"], 2: [], 3: ["01", "01"], 4: ["04", "01", "02", "01"]}
SAMPLE_RATE = 16000


def _render(out: Path, rel: str, code: str, level: str, voice, seed: int) -> None:
    s = stable_seed(seed, "asvp_esd", rel)
    emo, strength = EMOTIONS.get(code, ("other", 1.0))
    dur = float(np.random.default_rng(s).uniform(0.8, 2.0))
    render(out / rel, emo, voice, dur, SAMPLE_RATE, s, strength * (0.7 if level == "01" else 1.0))


def _name(*fields: str) -> str:
    return "-".join(fields) + ".wav"


def write(out: Path, *, seed: int, speakers: int | None, per_class: int) -> None:
    """``per_class`` files per emotion code and actor, plus the fixed quirk files."""
    for n in range(1, (speakers or 2) + 1):
        voice = make_speaker(seed, f"asvp_esd/{n}", "F" if n % 2 else "M")
        tail = TAILS.get(n, ["02"])
        for code in EMOTIONS:
            for i in range(per_class):
                channel = "02" if code in ("11", "13") or i % 2 == 0 else "01"
                level = "01" if i % 2 == 0 else "02"
                actor = "41" if (n == 1 and code == "05" and i == 0) else f"{n:02d}"
                name = _name("03", channel, code, level, f"{i + 1:02d}", actor, "02", "03", *tail)
                _render(out, f"Audio/actor_{n}/{name}", code, level, voice, seed)
    v1 = make_speaker(seed, "asvp_esd/1", "F")
    _render(out, "Audio/actor_1/" + _name("03", "01", "04", "04", "90", "01", "02", "03", "02"), "04", "02", v1, seed)
    _render(out, "Audio/actor_1/" + _name("03", "02", "17", "01", "91", "01", "02", "01"), "17", "01", v1, seed)
    v7 = make_speaker(seed, "asvp_esd/7", "F")
    _render(out, "Audio/actor_/" + _name("03", "01", "03", "02", "01", "07", "02", "03", "01"), "03", "02", v7, seed)
    baby = make_speaker(seed, "asvp_esd/bonus_150", "F")
    for code in ("03", "04"):
        _render(out, "Bonus/actor_150/" + _name("03", "02", code, "02", "01", "150", "04", "01"), code, "02", baby, seed)
