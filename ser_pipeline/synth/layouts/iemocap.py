"""Synthetic IEMOCAP: sessions with EmoEvaluation blocks (external and self raters, multi-category
lines, ``xxx`` consensus, ``dom  d`` with two spaces, a ``Categorical/`` sub-folder that must not be
read) and 16 kHz utterance WAVs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ser_pipeline.synth.voice import make_speaker, render, stable_seed

# acted emotion -> (voice profile, consensus code, rater category)
ACTED = {"ang": ("anger", "Anger"), "hap": ("happiness", "Happiness"), "sad": ("sadness", "Sadness"),
         "neu": ("neutral", "Neutral state"), "exc": ("happiness", "Excited"), "fru": ("anger", "Frustration"),
         "sur": ("surprise", "Surprise")}
CATEGORIES = ["Anger", "Happiness", "Sadness", "Neutral state", "Excited", "Frustration", "Surprise"]


def write(out: Path, *, seed: int, speakers: int | None, per_class: int) -> None:
    """Sessions 1..n (n = speakers // 2, at least 2; Session4 included once n >= 4, and always as
    the last session when n < 4), one improvised dialog each; ``per_class`` utterances per acted
    emotion alternating F/M speakers."""
    n = max(2, (speakers or 4) // 2)
    sessions = list(range(1, n + 1)) if n >= 4 else list(range(1, n)) + [4]
    for k in sessions:
        dialog = f"Ses{k:02d}F_impro01"
        lines = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
        t = 0.0
        idx = {"F": 0, "M": 0}
        for code, (profile, category) in ACTED.items():
            for i in range(per_class):
                g = "FM"[(idx["F"] + idx["M"]) % 2]
                utt = f"{dialog}_{g}{idx[g]:03d}"
                idx[g] += 1
                s = stable_seed(seed, "iemocap", utt)
                rng = np.random.default_rng(s)
                dur = float(rng.uniform(1.5, 3.5))
                render(out / f"Session{k}" / "sentences" / "wav" / dialog / f"{utt}.wav", profile,
                       make_speaker(seed, f"iemocap/Ses{k:02d}{g}", g), dur, 16000, s)
                raters = []
                for e in (1, 2, 3):
                    u = rng.random()
                    if u < 0.6:
                        raters.append(f"{category};")
                    elif u < 0.8:
                        raters.append(f"{category}; {CATEGORIES[int(rng.integers(len(CATEGORIES)))]};")
                    else:
                        raters.append(f"{CATEGORIES[int(rng.integers(len(CATEGORIES)))]};")
                consensus = code if i % 3 else "xxx"
                lines.append(f"[{t:.4f} - {t + dur:.4f}]\t{utt}\t{consensus}\t[2.5000, 3.0000, 3.0000]")
                lines += [f"C-E{e}:\t{r}\t()" for e, r in zip((1, 2, 3), raters, strict=True)]
                lines.append(f"C-{g}1:\t{category};\t()")  # self-evaluation, ignored
                lines.append("A-E1:\tval 2; act 3; dom  3;\t()")
                lines.append("")
                t += dur + 0.5
        ev = out / f"Session{k}" / "dialog" / "EmoEvaluation"
        (ev / "Categorical").mkdir(parents=True, exist_ok=True)
        (ev / f"{dialog}.txt").write_text("\n".join(lines) + "\n")
        (ev / "Categorical" / f"{dialog}_e1_cat.txt").write_text(f"{dialog}_F000 :Anger; ()\n")
