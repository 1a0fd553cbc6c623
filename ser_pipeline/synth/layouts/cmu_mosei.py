"""Synthetic CMU-MOSEI: full-video WAVs at 16 kHz made of emotional segments, and a
``CMU_MOSEI_Labels.csd`` (HDF5) whose intervals are unordered, overlapping, and include a negative
start and an all-zero (no emotion) row."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ser_pipeline.corpora.cmu_mosei import AUDIO_DIR, COLUMNS
from ser_pipeline.synth.voice import make_speaker, synthesize, stable_seed, write_wav

SAMPLE_RATE = 16000


def write(out: Path, *, seed: int, speakers: int | None, per_class: int) -> None:
    """``speakers`` videos (default 3), each with ``per_class`` segments per emotion plus one
    neutral (all-zero) segment; segment order in the .csd is shuffled."""
    import h5py

    (out / AUDIO_DIR).mkdir(parents=True, exist_ok=True)
    with h5py.File(out / "CMU_MOSEI_Labels.csd", "w") as f:
        g = f.create_group("All Labels")
        data = g.create_group("data")
        meta = g.create_group("metadata")
        meta.create_dataset("dimension names", data=json.dumps(["sentiment", *COLUMNS]))
        for k in range(speakers or 3):
            vid = f"vid{k:02d}_{stable_seed(seed, k) % 10**6:06d}"
            voice = make_speaker(seed, f"cmu_mosei/{vid}")
            rng = np.random.default_rng(stable_seed(seed, "cmu_mosei", vid))
            segments = [(c, 1.0 + rng.integers(0, 3)) for c in COLUMNS for _ in range(per_class)] + [("neutral", 0.0)]
            audio, feats, ivals, t = [], [], [], 0.3
            for cls, level in segments:
                dur = float(rng.uniform(1.5, 3.0))
                audio += [np.zeros(int(0.3 * SAMPLE_RATE), np.float32),
                          synthesize(cls, voice, dur, SAMPLE_RATE, stable_seed(seed, vid, t), strength=0.5 + level / 6)]
                row = np.zeros(7)
                if cls != "neutral":
                    row[1 + COLUMNS.index(cls)] = level
                    row[0] = 1.0 if cls == "happiness" else -1.0
                feats.append(row)
                ivals.append([t, t + dur])
                t += dur + 0.3
            ivals[0][0] = -0.4576  # a negative start, as in the distribution
            ivals.append([ivals[1][0] - 0.5, ivals[1][1]])  # an overlapping segment
            feats.append(feats[1])
            order = rng.permutation(len(feats))
            write_wav(out / AUDIO_DIR / f"{vid}.wav", np.concatenate(audio), SAMPLE_RATE)
            v = data.create_group(vid)
            v.create_dataset("features", data=np.asarray(feats)[order])
            v.create_dataset("intervals", data=np.asarray(ivals)[order])
