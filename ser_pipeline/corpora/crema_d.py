"""CREMA-D, the Crowd-sourced Emotional Multimodal Actors Dataset (English; train).

91 actors (48 M, 43 F) say 12 sentences in 6 emotions; 7,442 clips rated by 2,443 raters in
voice-only, face-only and audio-visual conditions. Cao et al., IEEE TAC 2014. ODbL 1.0 + DbCL 1.0.

Layout as distributed (github CheyneyComputerScience/CREMA-D, audio in git-lfs)::

    crema_d/
      AudioWAV/1001_DFA_ANG_XX.wav ...          7,442 clips, 16 kHz
      VideoDemographics.csv                      ActorID, Age, Sex, Race, Ethnicity
      processedResults/tabulatedVotes.csv        vote counts per (clip, modality)
      processedResults/summaryTable.csv          majority votes (not used)

File name ``1001_DFA_ANG_XX.wav`` -> actor 1001, sentence DFA, emotion ANG (anger), level XX
(unspecified; LO/MD/HI only for sentence IEO).

Soft label (docs/labels.md): the acted emotion from the name; when ``tabulatedVotes.csv`` exists, the
**voice** modality's vote counts (A D F H N S / numResponses) replace it. Two lines of it::

    "",A,D,F,H,N,S,fileName,numResponses,agreement,emoVote,meanEmoResp,meanEmoRespNorm
    100001,0,0,0,0,9,1,1001_DFA_ANG_XX,10,0.9,N,54.2,0.12

Assumption (corpora.md): the first (unnamed) column is the row id whose first digit is the
modality (1 voice, 2 face, 3 audio-visual); a ``queryType`` column, if present, wins.
A clip whose voice votes are all zero falls back to its acted label.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np

from ser_pipeline.corpora.base import (
    CorpusSpec, CorpusTables, Reason, ScanSettings, TableBuilder, read_text, require_root, walk_audio,
)
from ser_pipeline.emotions import score_vector

LABEL_MAP: dict[str, dict[str, float]] = {
    "ANG": {"anger": 1.0},
    "DIS": {"disgust": 1.0},
    "FEA": {"fear": 1.0},
    "HAP": {"happiness": 1.0},
    "NEU": {"neutral": 1.0},
    "SAD": {"sadness": 1.0},
}
#: vote letters of tabulatedVotes.csv -> the acted codes above
VOTE_LETTERS = {"A": "ANG", "D": "DIS", "F": "FEA", "H": "HAP", "N": "NEU", "S": "SAD"}

SPEC = CorpusSpec(
    name="crema_d",
    title="CREMA-D",
    role="train",
    languages=("en",),
    layout="AudioWAV/<actor>_<sentence>_<EMO>_<LEVEL>.wav; VideoDemographics.csv; "
           "processedResults/tabulatedVotes.csv (optional)",
    soft_label_source="voice-modality vote counts of tabulatedVotes.csv when present, else the acted label",
    label_map=LABEL_MAP,
    sample_rates_hz=(16000,),
    assumptions="tabulatedVotes.csv row id's first digit = modality (1 voice) unless a queryType column exists",
    code_version="1",
)

# 1001_DFA_ANG_XX -> actor 1001, sentence DFA, emotion ANG, level XX
_NAME = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})$")


def _read_demographics(root: Path) -> dict[str, str]:
    path = root / "VideoDemographics.csv"
    if not path.is_file():
        return {}
    out = {}
    for row in csv.DictReader(io.StringIO(read_text(path))):
        sex = (row.get("Sex") or "").strip().lower()
        if row.get("ActorID"):
            out[row["ActorID"].strip()] = {"male": "M", "female": "F"}.get(sex)
    return out


def _read_voice_votes(root: Path) -> dict[str, tuple[np.ndarray, int]]:
    """{clip stem: (raw scores (8,), numResponses)} for the voice modality."""
    path = root / "processedResults" / "tabulatedVotes.csv"
    if not path.is_file():
        return {}
    reader = csv.reader(io.StringIO(read_text(path)))
    header = next(reader, None)
    if not header:
        return {}
    col = {name.strip(): i for i, name in enumerate(header)}
    out = {}
    for fields in reader:
        try:
            rec = {name: fields[i] for name, i in col.items()}
            modality = rec.get("queryType") or (fields[0].strip()[:1] if fields[0].strip() else "")
            if modality != "1":
                continue
            n = int(float(rec["numResponses"]))
            counts = {letter: float(rec[letter]) for letter in VOTE_LETTERS}
        except (KeyError, ValueError, IndexError):
            continue
        if n <= 0 or sum(counts.values()) <= 0:
            continue
        e = np.zeros(8)
        for letter, c in counts.items():
            e += score_vector(LABEL_MAP[VOTE_LETTERS[letter]], c / n)
        out[rec["fileName"].strip().removesuffix(".wav")] = (e, n)
    return out


def read(root: Path, *, scan: ScanSettings | None = None) -> CorpusTables:
    """Read CREMA-D from ``root`` (voice votes when ``processedResults/`` is present)."""
    root = require_root(root, SPEC.name)
    b = TableBuilder(SPEC, root, scan)
    gender = _read_demographics(root)
    votes = _read_voice_votes(root)
    for path, m in b.named_files(walk_audio(root, "AudioWAV"), _NAME, "<actor>_<sentence>_<EMO>_<LEVEL>"):
        actor, _sentence, emo, _level = m.groups()
        if emo not in LABEL_MAP:
            b.reject(path, Reason.LABEL_UNKNOWN, f"emotion code {emo!r}")
            continue
        if path.stem in votes:
            scores, n_raters = votes[path.stem]
        else:
            scores, n_raters = score_vector(LABEL_MAP[emo]), None
        b.add(path, scores, speaker=actor, gender=gender.get(actor), language="en", source_label=emo,
              n_raters=n_raters)
    return b.finish()
