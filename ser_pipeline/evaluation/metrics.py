"""Classification metrics, label banning and logit adjustment (paper §3.1).

For single-label data micro F1 equals accuracy: every false positive of one class is a false
negative of another, so micro precision = micro recall = accuracy.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

BAN_VALUE = -1e27  # paper §3.1: added to the logits of classes absent from a set (fp32)


def ban_mask(allowed: Iterable[int], n_classes: int) -> np.ndarray:
    """Boolean (n_classes,) mask, True for classes that may be predicted."""
    mask = np.zeros(n_classes, dtype=bool)
    mask[list(allowed)] = True
    return mask


def ban_classes(logits: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Add −1e27 (in fp32) to the logits of classes not in ``allowed`` (bool (C,)). (N, C) -> (N, C)."""
    out = np.asarray(logits, dtype=np.float32).copy()
    out[:, ~np.asarray(allowed, dtype=bool)] += np.float32(BAN_VALUE)
    return out


def logit_adjust(logits: np.ndarray, prior: np.ndarray, tau: float = 1.0) -> np.ndarray:
    """Logit adjustment (Menon et al. 2021): z − τ·log(prior). (N, C) -> (N, C), fp32."""
    prior = np.clip(np.asarray(prior, dtype=np.float64), 1e-12, None)
    return (np.asarray(logits, dtype=np.float32) - np.float32(tau) * np.log(prior).astype(np.float32))


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts (C, C): rows = true class, columns = predicted class."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int)), 1)
    return cm


def per_class_f1(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """F1 of each class, shape (C,); 0 where a class has neither true nor predicted samples."""
    cm = confusion_matrix(y_true, y_pred, n_classes)
    tp = np.diag(cm).astype(np.float64)
    fp = cm.sum(axis=0) - tp
    fn = cm.sum(axis=1) - tp
    denom = 2 * tp + fp + fn
    return np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)


def micro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Micro F1 over single-label predictions (= accuracy)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return float((y_true == y_pred).mean()) if len(y_true) else 0.0
