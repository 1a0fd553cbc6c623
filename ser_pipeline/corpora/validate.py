"""Table invariants, as messages of the form "found X, expected Y" (an empty list = valid)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ser_pipeline.corpora.base import MANIFEST_COLUMNS, MAX_DURATION_S, MAX_SCORE
from ser_pipeline.emotions import CLASSES, SOFT_COLUMNS
_SHOW = 20  # offending ids named per problem (the rest are counted)


def _ids(df: pd.DataFrame, mask) -> str:
    ids = df.loc[mask, "utterance_id"].astype(str).tolist()
    more = f" ... (+{len(ids) - _SHOW})" if len(ids) > _SHOW else ""
    return ", ".join(ids[:_SHOW]) + more


def validate_manifest(df: pd.DataFrame) -> list[str]:
    """Problems of a corpus table: columns and order, scores in [0, 1], no NaN, unique ids,
    durations in (0, 1 h], probed sample rates."""
    problems = []
    cols = [c for c in df.columns if c in MANIFEST_COLUMNS]
    if cols != MANIFEST_COLUMNS:
        problems.append(f"core columns: found {cols}, expected {MANIFEST_COLUMNS}")
        return problems
    if list(df.columns[14:22]) != list(CLASSES):
        problems.append(f"score columns: found {list(df.columns[14:22])}, expected {list(CLASSES)}")
    scores = df[list(CLASSES)].to_numpy(dtype=np.float64)
    if np.isnan(scores).any():
        problems.append(f"NaN scores in {_ids(df, np.isnan(scores).any(1))}")
    bad = (scores < 0).any(1) | (scores > MAX_SCORE).any(1)
    if bad.any():
        problems.append(f"scores outside [0, 1] in {_ids(df, bad)}")
    if (scores.sum(1) <= 0).any():
        problems.append(f"no score mass in {_ids(df, scores.sum(1) <= 0)}")
    dup = df["utterance_id"].duplicated(keep=False)
    if dup.any():
        problems.append(f"duplicate utterance_id: {_ids(df, dup)}")
    dur = df["duration_s"].to_numpy(dtype=np.float64)
    bad = ~((dur > 0) & (dur <= MAX_DURATION_S))
    if bad.any():
        problems.append(f"duration_s outside (0, {MAX_DURATION_S}] s in {_ids(df, bad)}")
    sr = df["sample_rate"].to_numpy()
    if (sr <= 0).any():
        problems.append(f"unprobed sample_rate in {_ids(df, sr <= 0)}")
    return problems


def validate_soft_labels(df: pd.DataFrame) -> list[str]:
    """Problems of smoothed soft labels: present, non-negative, no NaN, rows summing to 1."""
    missing = [c for c in SOFT_COLUMNS if c not in df.columns]
    if missing:
        return [f"missing soft-label columns {missing}"]
    soft = df[list(SOFT_COLUMNS)].to_numpy(dtype=np.float64)
    problems = []
    if np.isnan(soft).any():
        problems.append(f"NaN soft labels in {_ids(df, np.isnan(soft).any(1))}")
    if (soft < 0).any():
        problems.append(f"negative soft labels in {_ids(df, (soft < 0).any(1))}")
    off = np.abs(soft.sum(1) - 1) > 1e-6
    if off.any():
        problems.append(f"soft labels not summing to 1 in {_ids(df, off)}")
    return problems


def leakage(df: pd.DataFrame) -> list[str]:
    """Speakers or utterances of the test split or the zero-shot corpora found in train/validation."""
    seen = df["split"].isin(["train", "validation"])
    held = df["split"].isin(["test", "zero_shot"])
    problems = []
    for col in ("utterance_id", "speaker"):
        both = set(df.loc[seen, col]) & set(df.loc[held, col])
        if both:
            problems.append(f"{col} in both training and held-out sets: {sorted(both)[:_SHOW]}")
    return problems
