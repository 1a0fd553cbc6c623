"""From raw per-corpus tables to one smoothed training table (DESIGN.md ``smoothed_labels``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ser_pipeline.emotions import CLASSES, SOFT_COLUMNS
from ser_pipeline.labels.domains import domain_keys
from ser_pipeline.labels.intensity import mean_intensity
from ser_pipeline.labels.smoothing import Variant, neutral_smoothing


def corpus_mean_intensity(table: pd.DataFrame) -> float:
    """Ē of one corpus table (paper §2.2), from its ``intensity`` column."""
    return mean_intensity(table["intensity"].to_numpy())


def add_soft_labels(table: pd.DataFrame, mean_e: float, variant: Variant = "neutral") -> pd.DataFrame:
    """A copy of one corpus table with ``soft_*`` (smoothed, normalised), ``hard_label``, ``domain``.

    Raw score columns are never modified (later assets add columns, never overwrite).
    """
    out = table.copy()
    soft = neutral_smoothing(out[list(CLASSES)].to_numpy(), out["intensity"].to_numpy(), mean_e, variant)
    write_soft_columns(out, soft)
    out["domain"] = domain_keys(out)
    return out


def write_soft_columns(table: pd.DataFrame, soft: np.ndarray) -> None:
    """Set ``soft_*`` of ``table`` to ``soft`` (N, 8), in class order, and ``hard_label`` to each
    row's argmax class (one array lookup, not a per-row loop). Modifies ``table`` in place."""
    for j, col in enumerate(SOFT_COLUMNS):
        table[col] = soft[:, j]
    table["hard_label"] = pd.Series(np.asarray(CLASSES, dtype=object)[soft.argmax(axis=1)], index=table.index,
                                    dtype="string")
