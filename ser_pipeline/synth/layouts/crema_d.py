"""Synthetic CREMA-D: ``AudioWAV/`` at 16 kHz, demographics, voice/face/AV vote tabulation.

Includes the distribution's silent clip ``1076_MTI_SAD_XX.wav`` (written with zero samples).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ser_pipeline.synth.voice import make_speaker, render, stable_seed, write_wav

EMOTIONS = {"ANG": "anger", "DIS": "disgust", "FEA": "fear", "HAP": "happiness", "NEU": "neutral",
            "SAD": "sadness"}
LETTER = {"ANG": "A", "DIS": "D", "FEA": "F", "HAP": "H", "NEU": "N", "SAD": "S"}
SENTENCES = ("IEO", "TIE", "IOM", "IWW", "TAI", "MTI", "IWL", "ITH", "DFA", "ITS", "TSI", "WSI")
SAMPLE_RATE = 16000


def write(out: Path, *, seed: int, speakers: int | None, per_class: int) -> None:
    """``per_class`` clips per emotion and actor; sentence IEO carries levels LO/MD/HI."""
    actors = [str(1001 + i) for i in range(speakers or 4)]
    demo = [["ActorID", "Age", "Sex", "Race", "Ethnicity"]]
    votes = [["", "A", "D", "F", "H", "N", "S", "fileName", "numResponses", "agreement", "emoVote"]]
    row_id = 0
    for actor in actors:
        rng_a = np.random.default_rng(stable_seed(seed, "crema_d", actor))
        sex = "Male" if rng_a.random() < 0.5 else "Female"
        demo.append([actor, str(int(rng_a.integers(20, 75))), sex, "Caucasian", "Not Hispanic"])
        voice = make_speaker(seed, f"crema_d/{actor}", sex[0])
        for emo, profile in EMOTIONS.items():
            for i in range(per_class):
                sentence = SENTENCES[i % len(SENTENCES)]
                level = ("LO", "MD", "HI")[i % 3] if sentence == "IEO" and emo != "NEU" else "XX"
                stem = f"{actor}_{sentence}_{emo}_{level}"
                s = stable_seed(seed, "crema_d", stem)
                r = np.random.default_rng(s)
                strength = {"LO": 0.5, "MD": 0.75, "HI": 1.0, "XX": 0.9}[level]
                render(out / "AudioWAV" / f"{stem}.wav", profile, voice, float(r.uniform(1.3, 3.0)),
                       SAMPLE_RATE, s, strength)
                # perceived votes: most raters hear the acted emotion, a few hear neutral or another
                n = int(r.integers(7, 12))
                counts = dict.fromkeys("ADFHNS", 0)
                for _ in range(n):
                    u = r.random()
                    letter = LETTER[emo] if u < 0.7 else ("N" if u < 0.85 else "ADFHNS"[int(r.integers(0, 6))])
                    counts[letter] += 1
                top = max(counts, key=counts.get)
                for modality in (1, 2, 3):
                    row_id += 1
                    votes.append([str(modality * 100000 + row_id), *[str(counts[k]) for k in "ADFHNS"], stem,
                                  str(n), f"{counts[top] / n:.2f}", top])
    write_wav(out / "AudioWAV" / "1076_MTI_SAD_XX.wav", np.zeros(0, dtype=np.float32), SAMPLE_RATE)
    for name, rows in (("VideoDemographics.csv", demo), ("processedResults/tabulatedVotes.csv", votes)):
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as f:
            csv.writer(f).writerows(rows)
