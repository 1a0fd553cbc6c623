"""Synthetic MSP-IMPROV: ``session<k>/<SxxE>/<T>/MSP-IMPROV-...wav`` and ``Evaluation.txt`` with
rater lines (one copied row per clip, as in the distribution), O/X consensus codes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ser_pipeline.synth.voice import make_speaker, render, stable_seed

TARGETS = {"A": ("anger", "Angry"), "H": ("happiness", "Happy"), "S": ("sadness", "Sad"), "N": ("neutral", "Neutral")}
LABELS = ["Angry", "Happy", "Sad", "Neutral", "Other"]


def write(out: Path, *, seed: int, speakers: int | None, per_class: int) -> None:
    """Sessions 1..n (n = speakers // 2, at least 1), F and M actor each; ``per_class`` sentences per
    target emotion and actor."""
    lines = []
    for k in range(1, max(1, (speakers or 4) // 2) + 1):
        for g in ("F", "M"):
            spk = f"{g}{k:02d}"
            voice = make_speaker(seed, f"msp_improv/{spk}", g)
            for emo, (profile, label) in TARGETS.items():
                for sent in range(1, per_class + 1):
                    s_id = f"S{sent:02d}{emo}"
                    stem = f"MSP-IMPROV-{s_id}-{spk}-P-{g}M{k:02d}"
                    s = stable_seed(seed, "msp_improv", stem)
                    rng = np.random.default_rng(s)
                    render(out / f"session{k}" / s_id / "P" / f"{stem}.wav", profile, voice,
                           float(rng.uniform(1.5, 3.0)), 44100, s)
                    votes = [label if rng.random() < 0.7 else LABELS[int(rng.integers(5))] for _ in range(5)]
                    top = max(set(votes), key=votes.count)
                    code = {"Angry": "A", "Happy": "H", "Sad": "S", "Neutral": "N", "Other": "O"}[top]
                    lines.append(f"UTD-IMPROV-{s_id}-{spk}-P-{g}M{k:02d}.avi; {code}; A:3.0; V:3.0; D:3.0 ; N:4.0;")
                    rows = [f"rater{r:02d}; {v}; ; A:3; V:3; D:3; N:4;" for r, v in enumerate(votes)]
                    lines += rows + [rows[0]] + [""]  # the first rater row copied, as in the distribution
    (out / "Evaluation.txt").write_text("\n".join(lines) + "\n")
