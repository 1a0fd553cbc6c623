"""Synthetic ESD: ``Emotion Speech Dataset/<spk>/<Emotion>/<split>/<spk>_<nnnnnn>.wav`` at 16 kHz
with ``<spk>/<spk>.txt`` transcripts in per-speaker encodings (gb2312 with Chinese emotion words,
utf-16 with blank lines, utf-8, latin-1). ``write_layout(..., splits=False)`` writes the flat
``<spk>/<Emotion>/<file>.wav`` copy without the outer folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ser_pipeline.corpora.esd import CHINESE_EMOTIONS, gender
from ser_pipeline.synth.voice import make_speaker, render, stable_seed

SPEAKERS = ("0001", "0011", "0002", "0012", "0003", "0013")
#: folder -> (first utterance number - 1, voice profile)
EMOTIONS = {"Neutral": (0, "neutral"), "Angry": (350, "anger"), "Happy": (700, "happiness"),
            "Sad": (1050, "sadness"), "Surprise": (1400, "surprise")}
ENCODINGS = {"0001": "gb2312", "0011": "utf-16", "0002": "utf-8", "0012": "latin-1"}
SPLIT_CYCLE = ("train", "test", "evaluation")
ZH_TEXTS = ("打远一看，它们的确很是美丽，", "他仅凭腰部的力量，在泳道上下翻腾，")
EN_TEXTS = ("Author of the danger trail, Philip Steels, etc.", "The café was closed that night.")
SAMPLE_RATE = 16000
_WORDS_ZH = {v: k for k, v in CHINESE_EMOTIONS.items()}


def write_layout(out: Path, *, seed: int, speakers: int | None, per_class: int, splits: bool = True) -> None:
    """``per_class`` files per emotion and speaker; split i % 3 in (train, test, evaluation)."""
    base = out / "Emotion Speech Dataset" if splits else out
    base.mkdir(parents=True, exist_ok=True)
    if splits:
        (base / "ReadMe.txt").write_text("Emotional Speech Dataset (ESD)\n")
    for spk in SPEAKERS[: speakers or 2]:
        zh = int(spk) <= 10
        voice = make_speaker(seed, f"esd/{spk}", gender(spk))
        lines = []
        for folder, (offset, emo) in EMOTIONS.items():
            for i in range(per_class):
                uid = f"{spk}_{offset + i + 1:06d}"
                s = stable_seed(seed, "esd", uid)
                sub = base / spk / folder / (SPLIT_CYCLE[i % 3] if splits else "")
                dur = float(np.random.default_rng(s).uniform(1.2, 2.5))
                render(sub / f"{uid}.wav", emo, voice, dur, SAMPLE_RATE, s)
                text = (ZH_TEXTS if zh else EN_TEXTS)[(offset + i) % 2]
                lines.append(f"{uid}\t{text}\t{_WORDS_ZH[folder] if zh else folder}")
        sep = "\n\n" if spk == "0011" else "\n"
        (base / spk / f"{spk}.txt").write_bytes((sep.join(lines) + "\n").encode(ENCODINGS.get(spk, "utf-8")))


def write(out: Path, *, seed: int, speakers: int | None, per_class: int) -> None:
    """The official zip layout (with split folders)."""
    write_layout(out, seed=seed, speakers=speakers, per_class=per_class, splits=True)
