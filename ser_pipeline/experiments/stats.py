"""Honest statistics for a study: seed means with their run counts, bootstrap intervals of micro
F1 over clips, and whether two arms can be told apart at all."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

N_BOOTSTRAP = 1000
LEVEL = 0.95


@dataclasses.dataclass(frozen=True)
class SeedSummary:
    """Mean ± sample standard deviation (ddof=1; 0 for one run) over ``n_runs`` runs."""

    mean: float
    std: float
    n_runs: int

    def __str__(self) -> str:
        return f"{self.mean * 100:.1f} ± {self.std * 100:.1f} (n={self.n_runs})"


def seed_summary(values: Sequence[float]) -> SeedSummary:
    """Summary of one metric over seeds. Raises ``ValueError`` for no values."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        raise ValueError("no runs to summarise")
    return SeedSummary(float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0, int(v.size))


def bootstrap_micro_f1(correct: np.ndarray, *, n: int = N_BOOTSTRAP, seed: int = 0,
                       level: float = LEVEL) -> tuple[float, float]:
    """Percentile bootstrap interval of micro F1 (= accuracy) by resampling clips.

    Args:
        correct: 0/1 per clip, shape (n_clips,) for one run or (n_runs, n_clips) for several seeds
            scored on the same clips; the statistic is then the mean over runs of micro F1, i.e.
            the mean over clips of each clip's mean correctness, and clips are resampled jointly.
        n: bootstrap resamples. seed: the resampling seed (same seed, same interval).
        level: coverage of the interval.
    Returns:
        (low, high) as fractions in [0, 1].
    """
    c = np.asarray(correct, dtype=np.float64)
    per_clip = c.mean(axis=0) if c.ndim == 2 else c
    if per_clip.size == 0:
        raise ValueError("no clips to bootstrap")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, per_clip.size, size=(n, per_clip.size))
    stats = per_clip[idx].mean(axis=1)
    alpha = (1.0 - level) / 2
    lo, hi = np.quantile(stats, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def intervals_overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """True when the closed intervals ``a`` and ``b`` share a point: the difference between the
    two arms is not resolved by this data."""
    return a[0] <= b[1] and b[0] <= a[1]
