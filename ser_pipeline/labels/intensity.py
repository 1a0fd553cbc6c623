"""Emotional intensity E_i and the per-dataset mean Ē (paper §2.2; docs/labels.md "Intensity")."""

from __future__ import annotations

import numpy as np

from ser_pipeline.emotions import NON_NEUTRAL


def intensity(scores: np.ndarray) -> np.ndarray:
    """E_i = Σ_j e_ij over the 7 non-neutral classes (paper §2.2; neutral excluded per docs/labels.md).

    Args:
        scores: raw score vectors, shape (8,) or (N, 8), in class order.
    Returns:
        shape () or (N,): the intensity of each sample.
    """
    scores = np.asarray(scores, dtype=np.float64)
    return scores[..., list(NON_NEUTRAL)].sum(axis=-1)


def mean_intensity(intensities: np.ndarray) -> float:
    """Ē = (1/N) Σ_i E_i over one dataset (paper §2.2). Returns 0.0 for an empty dataset."""
    intensities = np.asarray(intensities, dtype=np.float64)
    if intensities.size == 0:
        return 0.0
    return float(intensities.mean())
