"""The 8-class label space: the one place that knows the class order.

The order is the paper's released checkpoints' (``head`` = Linear(d_model, 8) applied to every
encoder frame); see ``docs/labels.md``. Every table stores the raw scores in columns named
exactly after :data:`CLASSES`, in this order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

CLASSES: tuple[str, ...] = (
    "happiness",
    "sadness",
    "disgust",
    "fear",
    "surprise",
    "anger",
    "other",
    "neutral",
)
N_CLASSES = len(CLASSES)
CLASS_INDEX: dict[str, int] = {c: i for i, c in enumerate(CLASSES)}
NEUTRAL = CLASS_INDEX["neutral"]
#: Indices of the 7 non-neutral classes (intensity sums over these).
NON_NEUTRAL = tuple(i for i in range(N_CLASSES) if i != NEUTRAL)
#: Column names of the smoothed, normalised soft label added by ``smoothed_labels``.
SOFT_COLUMNS: tuple[str, ...] = tuple(f"soft_{c}" for c in CLASSES)

#: Training prior of the paper's released checkpoints (docs/labels.md); the default for logit
#: adjustment when no training table is at hand.
RELEASED_PRIOR = np.array(
    [0.19170297, 0.09759999, 0.05292019, 0.06359768, 0.06397428, 0.11632104, 0.02482805, 0.38905580],
    dtype=np.float64,
)

WeightRow = Mapping[str, float]

#: docs/labels.md "common words": source label (lower case) -> {class: weight}.
COMMON_WORDS: dict[str, dict[str, float]] = {
    **{w: {"anger": 1.0} for w in ("angry", "anger", "ang")},
    **{w: {"happiness": 1.0} for w in ("happy", "happiness", "joy", "hap")},
    **{w: {"sadness": 1.0} for w in ("sad", "sadness")},
    **{w: {"fear": 1.0} for w in ("fear", "fearful", "afraid", "panic")},
    **{w: {"disgust": 1.0} for w in ("disgust", "disgusted")},
    **{w: {"surprise": 1.0} for w in ("surprise", "surprised")},
    "neutral": {"neutral": 1.0},
    "contempt": {"disgust": 0.5},
    "other": {"other": 1.0},
}


def score_vector(row: WeightRow, scale: float = 1.0) -> np.ndarray:
    """Turn a weight row ``{class: weight}`` into a raw score vector, shape (8,), times ``scale``.

    ``scale`` is the normalised intensity (e.g. RAVDESS strong = 1.0, normal = 0.5).
    Raises ``KeyError`` naming the class if a key is not one of :data:`CLASSES`.
    """
    e = np.zeros(N_CLASSES, dtype=np.float64)
    for cls, w in row.items():
        if cls not in CLASS_INDEX:
            raise KeyError(f"unknown emotion class {cls!r}; expected one of {CLASSES}")
        e[CLASS_INDEX[cls]] += float(w) * scale
    return e


def vote_scores(votes: Iterable[Sequence[WeightRow]]) -> np.ndarray:
    """Raw scores from rater votes (docs/labels.md): mean over raters of each rater's weight row.

    ``votes`` holds one entry per rater; each entry is the list of weight rows of the categories
    that rater chose. A rater who lists k categories gives each 1/k of the vote.
    Returns shape (8,). Raises ``ValueError`` if there are no raters or a rater chose nothing.
    """
    votes = list(votes)
    if not votes:
        raise ValueError("vote_scores needs at least one rater")
    total = np.zeros(N_CLASSES, dtype=np.float64)
    for i, chosen in enumerate(votes):
        if len(chosen) == 0:
            raise ValueError(f"rater {i} chose no category")
        for row in chosen:
            total += score_vector(row, 1.0 / len(chosen))
    return total / len(votes)


def no_emotion_if_empty(e: np.ndarray) -> np.ndarray:
    """docs/labels.md: a vector with no mass at all means "no perceived emotion" -> neutral 1."""
    if float(np.sum(e)) <= 0.0:
        e = np.zeros(N_CLASSES, dtype=np.float64)
        e[NEUTRAL] = 1.0
    return e


def scores_to_dict(e: np.ndarray) -> dict[str, float]:
    """Map a score vector, shape (8,), to ``{class: score}`` in class order (table columns)."""
    return {c: float(v) for c, v in zip(CLASSES, e, strict=True)}
