"""Hume-Prosody, the ACM MM 2023 ComParE "Emotion Share" data (fine-tune target, paper §3.2).

Each clip has 9 continuous "emotion shares" in [0, 1] (Anger, Boredom, Calmness, Concentration,
Determination, Excitement, Interest, Sadness, Tiredness). Challenge data; terms unconfirmed.

Layout (ComParE packaging)::

    hume_prosody/
      wav/<name>.wav
      lab/train.csv  lab/devel.csv  lab/test.csv    filename,Anger,Boredom,...,Tiredness

Two lines of ``lab/devel.csv``::

    filename,Anger,Boredom,Calmness,Concentration,Determination,Excitement,Interest,Sadness,Tiredness
    devel_00001.wav,0.12,0.30,0.55,0.41,0.22,0.08,0.37,0.19,0.26

The targets are not mapped onto the 8 emotions: they are kept as ``hume_anger`` ...
``hume_tiredness``; the 8 raw score columns are set to neutral 1 and unused for this corpus.
``test.csv`` has empty label fields: those rows are kept with null targets and
``has_targets = False`` (the fine-tune writes predictions for them).

Assumptions (corpora.md: unconfirmed): speakers are unknown; language is recorded as "en"
(the corpus mixes countries); audio is looked up in ``wav/`` (or ``raw/wav/``) by file name.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pyarrow as pa

from ser_pipeline.corpora.base import (
    CorpusSpec, CorpusTables, Reason, ScanSettings, TableBuilder, read_text, require_root, walk_audio,
)
from ser_pipeline.emotions import score_vector

TARGETS = ("anger", "boredom", "calmness", "concentration", "determination", "excitement", "interest", "sadness",
           "tiredness")
TARGET_COLUMNS = tuple(f"hume_{t}" for t in TARGETS)
SPLITS = ("train", "devel", "test")
LABEL_MAP: dict[str, dict[str, float]] = {}  # not mapped: 9 continuous targets

SPEC = CorpusSpec(
    name="hume_prosody", title="Hume-Prosody", role="finetune", languages=("en",),
    layout="wav/<name>.wav; lab/{train,devel,test}.csv (filename + 9 targets)",
    soft_label_source="none: the 9 continuous targets are kept as hume_* columns (8 scores = neutral 1, unused)",
    label_map=LABEL_MAP,
    extra_columns={**{c: pa.float64() for c in TARGET_COLUMNS}, "has_targets": pa.bool_()},
    assumptions="speakers unknown; language 'en'; audio in wav/ (or raw/wav/); test rows kept without targets",
)


def read(root: Path, *, scan: ScanSettings | None = None) -> CorpusTables:
    """Read Hume-Prosody from ``root``."""
    root = require_root(root, SPEC.name)
    b = TableBuilder(SPEC, root, scan)
    audio_dir = root / "wav" if (root / "wav").is_dir() else root / "raw" / "wav"
    neutral = score_vector({"neutral": 1.0})
    for split in SPLITS:
        lab = root / "lab" / f"{split}.csv"
        if not lab.is_file():
            continue
        reader = csv.reader(io.StringIO(read_text(lab)))
        header = next(reader, [])
        if len(header) < 1 + len(TARGETS):
            b.reject(lab, Reason.MALFORMED, f"header has {len(header)} columns, expected filename + 9 targets")
            continue
        for line_no, fields in enumerate(reader, start=2):
            if not fields or not fields[0].strip():
                continue
            name = fields[0].strip()
            path = audio_dir / (name if name.lower().endswith(".wav") else f"{name}.wav")
            values = [f.strip() for f in fields[1: 1 + len(TARGETS)]]
            if all(v == "" for v in values):
                targets, has = [None] * len(TARGETS), False
            else:
                try:
                    t = [float(v) for v in values]
                    if len(t) != len(TARGETS) or not all(np.isfinite(t)):
                        raise ValueError(f"{len(t)} values")
                except ValueError as exc:
                    b.reject(path, Reason.MALFORMED, f"{lab.name} line {line_no}: bad targets ({exc})")
                    continue
                targets, has = t, True
            if not path.exists():
                b.reject(path, Reason.AUDIO_MISSING, f"{lab.name} line {line_no} lists {name}, which does not exist")
                continue
            b.add(path, neutral, speaker=None, language="en", source_label=None, official_split=split,
                  extra={**dict(zip(TARGET_COLUMNS, targets, strict=True)), "has_targets": has})
    b.reject_unclaimed(walk_audio(audio_dir) if audio_dir.is_dir() else [], "no lab/*.csv lists this audio")
    return b.finish()
