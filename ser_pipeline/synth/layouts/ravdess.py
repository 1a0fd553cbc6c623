"""Synthetic RAVDESS: speech and song zips' trees at 48 kHz (no song for Actor_18)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ser_pipeline.synth.voice import make_speaker, render, stable_seed

SPEECH_EMOTIONS = {"01": "neutral", "02": "neutral", "03": "happiness", "04": "sadness", "05": "anger",
                   "06": "fear", "07": "disgust", "08": "surprise"}
SONG_EMOTIONS = ("01", "02", "03", "04", "05", "06")
COMBOS = [("01", "01"), ("01", "02"), ("02", "01"), ("02", "02")]  # (statement, repetition)
SAMPLE_RATE = 48000


def write(out: Path, *, seed: int, speakers: int | None, per_class: int) -> None:
    """Per actor and emotion: ``per_class`` (≤ 4) statement/repetition pairs at each intensity
    (neutral only normal); song: half as many, no disgust/surprise, none for Actor_18."""
    n_actors = speakers or 4
    combos = COMBOS[: max(1, min(per_class, 4))]
    song_combos = COMBOS[: max(1, min(per_class, 4) // 2)]
    for a in range(1, n_actors + 1):
        actor = f"{a:02d}"
        voice = make_speaker(seed, f"ravdess/{actor}", "M" if a % 2 else "F")
        for channel, emotions, zdir, cmb in (
            ("01", SPEECH_EMOTIONS, "Audio_Speech_Actors_01-24", combos),
            ("02", SONG_EMOTIONS, "Audio_Song_Actors_01-24", song_combos),
        ):
            if channel == "02" and actor == "18":
                continue
            for emo in emotions:
                levels = ("01",) if emo == "01" else ("01", "02")
                for level in levels:
                    for stmt, rep in cmb:
                        stem = f"03-{channel}-{emo}-{level}-{stmt}-{rep}-{actor}"
                        s = stable_seed(seed, "ravdess", stem)
                        dur = float(np.random.default_rng(s).uniform(2.0, 3.2))
                        strength = 0.35 if emo == "02" else (0.6 if level == "01" else 1.0)
                        render(out / zdir / f"Actor_{actor}" / f"{stem}.wav", SPEECH_EMOTIONS[emo], voice,
                               dur, SAMPLE_RATE, s, strength)
