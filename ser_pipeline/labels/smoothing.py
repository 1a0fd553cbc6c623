"""Neutral smoothing (paper §2.2) and soft-label normalisation.

Samples whose intensity E_i is below their dataset's mean Ē get neutral mass in proportion to how
far below they are: α = min(|Ē − E_i| / Ē, 0.45). Two variants share α (docs/labels.md):

* ``neutral`` (default): e' = (1 − α)·e + α·onehot(neutral).
* ``paper``: the formula as printed, e'_j = e_j(1 − α) + (1 − e_j)·α/M, M = 8.

Both then keep the primary emotion (paper: "the primary emotion is retained"): if neutral now
exceeds the largest non-neutral score of a sample whose primary emotion was not neutral, neutral
is capped to that score minus 1e-6. Finally every vector is normalised to sum to 1.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ser_pipeline.emotions import N_CLASSES, NEUTRAL, NON_NEUTRAL

Variant = Literal["neutral", "paper"]
MAX_ALPHA = 0.45  # paper §2.2
PRIMARY_MARGIN = 1e-6  # docs/labels.md: neutral capped to the primary score minus this


def smoothing_alpha(intensity: np.ndarray, mean_intensity: float) -> np.ndarray:
    """α_i = min(|Ē − E_i| / Ē, 0.45) where E_i < Ē, else 0 (paper §2.2). Shape (N,).

    A dataset with Ē = 0 (no intensity information) gets α = 0 everywhere.
    """
    e = np.asarray(intensity, dtype=np.float64)
    if mean_intensity <= 0:
        return np.zeros_like(e)
    alpha = np.minimum(np.abs(mean_intensity - e) / mean_intensity, MAX_ALPHA)
    return np.where(e < mean_intensity, alpha, 0.0)


def normalise(scores: np.ndarray) -> np.ndarray:
    """Rows divided by their sum; an all-zero row becomes neutral 1. Shape (N, 8) -> (N, 8)."""
    s = np.asarray(scores, dtype=np.float64).copy()
    total = s.sum(axis=1, keepdims=True)
    empty = total[:, 0] <= 0
    s[empty] = 0.0
    s[empty, NEUTRAL] = 1.0
    total[empty] = 1.0
    return s / total


def neutral_smoothing(scores: np.ndarray, intensity: np.ndarray, mean_intensity: float,
                      variant: Variant = "neutral") -> np.ndarray:
    """Smoothed, normalised soft labels (paper §2.2, docs/labels.md).

    Args:
        scores: raw score vectors e, shape (N, 8), class order of emotions.CLASSES.
        intensity: E_i per sample, shape (N,).
        mean_intensity: Ē of the sample's dataset.
        variant: ``"neutral"`` (default) or ``"paper"``.
    Returns:
        shape (N, 8), each row summing to 1.
    """
    if variant not in ("neutral", "paper"):
        raise ValueError(f"smoothing variant must be 'neutral' or 'paper', not {variant!r}")
    e = np.asarray(scores, dtype=np.float64)
    if e.ndim != 2 or e.shape[1] != N_CLASSES:
        raise ValueError(f"scores must have shape (N, {N_CLASSES}), found {e.shape}")
    alpha = smoothing_alpha(intensity, mean_intensity)[:, None]
    if variant == "neutral":
        onehot = np.zeros(N_CLASSES)
        onehot[NEUTRAL] = 1.0
        out = (1.0 - alpha) * e + alpha * onehot
    else:
        out = e * (1.0 - alpha) + (1.0 - e) * alpha / N_CLASSES
    # Primary-emotion rule, only for smoothed rows whose primary emotion was not neutral.
    nn = list(NON_NEUTRAL)
    primary_not_neutral = e[:, nn].max(axis=1) > e[:, NEUTRAL]
    top_other = out[:, nn].max(axis=1)
    cap = (alpha[:, 0] > 0) & primary_not_neutral & (out[:, NEUTRAL] > top_other)
    out[cap, NEUTRAL] = top_other[cap] - PRIMARY_MARGIN
    return normalise(out)
