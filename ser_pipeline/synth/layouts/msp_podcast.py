"""Synthetic MSP-Podcast (release 1.12 spelling): ``Audios/``, ``Labels/labels_consensus.csv`` and
``labels_detailed.csv`` with per-worker primary votes (Other-<text>, Contempt), X rows, Unknown speakers."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ser_pipeline.synth.voice import make_speaker, render, stable_seed

CODES = {"A": ("anger", "Angry"), "S": ("sadness", "Sad"), "H": ("happiness", "Happy"), "U": ("surprise", "Surprise"),
         "F": ("fear", "Fear"), "D": ("disgust", "Disgust"), "C": ("disgust", "Contempt"), "N": ("neutral", "Neutral"),
         "O": ("other", "Other-bored")}
SPLITS = ("Train", "Train", "Development", "Test1")


def write(out: Path, *, seed: int, speakers: int | None, per_class: int) -> None:
    """``per_class`` turns per code and speaker (the last speaker is "Unknown"), 5 workers each; one
    X row per speaker that has votes and one without."""
    cons = [["FileName", "EmoClass", "EmoAct", "EmoVal", "EmoDom", "SpkrID", "Gender", "Split_Set"]]
    det = [["FileName", "Annotation"]]
    seg = 0
    n_spk = speakers or 3
    for k in range(n_spk):
        spk = "Unknown" if k == n_spk - 1 else str(100 + k)
        voice = make_speaker(seed, f"msp_podcast/{k}")
        items = [(c, i) for c in CODES for i in range(per_class)] + [("X", 0), ("X", 1)]
        for code, i in items:
            seg += 1
            name = f"MSP-PODCAST_{k + 1:04d}_{seg:04d}.wav"
            s = stable_seed(seed, "msp_podcast", name)
            rng = np.random.default_rng(s)
            profile = CODES[code][0] if code != "X" else "neutral"
            render(out / "Audios" / name, profile, voice, float(rng.uniform(1.5, 3.5)), 16000, s)
            cons.append([name, code, "3.2", "4.0", "3.4", spk, "Unknown" if spk == "Unknown" else
                         ("Female" if voice.gender == "F" else "Male"), SPLITS[seg % len(SPLITS)]])
            if code == "X" and i == 1:
                continue  # no votes at all: unlabelled
            for w in range(5):
                primary = CODES[code][1] if code != "X" and rng.random() < 0.7 else \
                    ["Neutral", "Happy", "Sad", "Contempt", "Other-tired"][int(rng.integers(5))]
                det.append([name, f"WORKER{w:07d}; {primary}; Neutral,Concerned; A:3.0; V:4.0; D:3.0;"])
    for fname, rows in (("labels_consensus.csv", cons), ("labels_detailed.csv", det)):
        (out / "Labels").mkdir(parents=True, exist_ok=True)
        with (out / "Labels" / fname).open("w", newline="") as f:
            csv.writer(f).writerows(rows)
