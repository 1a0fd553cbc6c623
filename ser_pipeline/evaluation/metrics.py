"""Classification metrics, label banning, logit adjustment (paper §3.1) and per-dimension correlation (§3.2).

For single-label data micro F1 equals accuracy: every false positive of one class is a false
negative of another, so micro precision = micro recall = accuracy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from ser_pipeline.emotions import CLASSES

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


# --------------------------------------------------------------------------------------------
# Macro F1, UAR, scored classes, the per-set evaluation bundle
# --------------------------------------------------------------------------------------------

#: docs/labels.md "Classes scored per set": set name -> the classes that may be predicted there
#: (all others are banned with −1e27). ``scored_classes`` derives the set from the labels
#: present and :func:`check_scored` verifies it equals this.
EXPECTED_SCORED: dict[str, tuple[str, ...]] = {
    "validation": ("happiness", "sadness", "disgust", "fear", "surprise", "anger", "other", "neutral"),
    "iemocap_s4": ("happiness", "sadness", "surprise", "anger", "neutral"),
    "emodb": ("happiness", "sadness", "disgust", "fear", "anger", "neutral"),
    "masc": ("happiness", "sadness", "fear", "anger", "neutral"),
    "urdu": ("happiness", "sadness", "anger", "neutral"),
    "aesdd": ("happiness", "sadness", "disgust", "fear", "anger"),
}


def _class_names(n_classes: int = 8) -> tuple[str, ...]:
    """The emotion names for the 8-class space; "0".."C-1" for any other label space."""
    return CLASSES if n_classes == len(CLASSES) else tuple(str(i) for i in range(n_classes))


def scored_classes(y_true: np.ndarray, n_classes: int = 8) -> np.ndarray:
    """The classes a set is scored on: those present among its hard labels (docs/labels.md).

    Args:
        y_true (int array (N,)): hard labels (argmax of the soft label).
        n_classes (int, optional): size of the label space. (Default: 8)
    Returns:
        bool array (n_classes,), True for a class that occurs in ``y_true`` (= allowed mask).
    """
    mask = np.zeros(n_classes, dtype=bool)
    mask[np.unique(np.asarray(y_true, dtype=int))] = True
    return mask


def table2_classes(set_name: str, y_true: np.ndarray, n_classes: int = 8) -> np.ndarray:
    """The classes set ``set_name`` is scored on (the rest are banned, paper §3.1): Table 2's own
    (:data:`EXPECTED_SCORED`) for the sets it names, else those present (:func:`scored_classes`).

    Returns:
        bool array (n_classes,), the allowed mask.
    """
    if set_name in EXPECTED_SCORED and n_classes == len(CLASSES):
        return np.isin(np.array(CLASSES), EXPECTED_SCORED[set_name])
    return scored_classes(y_true, n_classes)


def check_scored(set_name: str, allowed: np.ndarray) -> None:
    """Raise ``ValueError`` if ``allowed`` (bool (8,)) differs from :data:`EXPECTED_SCORED`.

    Sets not listed in :data:`EXPECTED_SCORED` are accepted as they are. The message reads
    "found ..., expected ..." and names the missing and the extra classes.
    """
    if set_name not in EXPECTED_SCORED:
        return
    classes = _class_names(len(allowed))
    found = {classes[i] for i in np.flatnonzero(np.asarray(allowed, dtype=bool))}
    expected = set(EXPECTED_SCORED[set_name])
    if found != expected:
        raise ValueError(
            f"{set_name}: scored classes found {sorted(found)}, expected {sorted(expected)} (docs/labels.md); "
            f"missing {sorted(expected - found)}, extra {sorted(found - expected)}")


def per_class_recall(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Recall TP / (TP + FN) of each class, shape (C,); 0 where a class has no true samples."""
    cm = confusion_matrix(y_true, y_pred, n_classes)
    tp = np.diag(cm).astype(np.float64)
    support = cm.sum(axis=1).astype(np.float64)
    return np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)


def _classes_or_present(y_true: np.ndarray, classes: np.ndarray | None, n_classes: int) -> np.ndarray:
    if classes is None:
        return scored_classes(y_true, n_classes)
    classes = np.asarray(classes)
    return classes if classes.dtype == bool else ban_mask(classes, n_classes)


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = 8,
             classes: np.ndarray | None = None) -> float:
    """Unweighted mean of the per-class F1 over ``classes`` (bool mask or indices).

    ``classes`` defaults to the classes present in ``y_true`` (the set's scored classes).
    F1_c = 2·TP_c / (2·TP_c + FP_c + FN_c); macro F1 = mean_c F1_c (Sokolova & Lapalme 2009).
    """
    mask = _classes_or_present(y_true, classes, n_classes)
    if not mask.any():
        return 0.0
    return float(per_class_f1(y_true, y_pred, n_classes)[mask].mean())


def unweighted_average_recall(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = 8,
                              classes: np.ndarray | None = None) -> float:
    """UAR: unweighted mean of the per-class recall over ``classes`` with at least one true sample.

    ``classes`` (bool mask or indices) defaults to the classes present in ``y_true``; classes
    without support are left out (their recall is undefined). UAR = mean_c TP_c / (TP_c + FN_c)
    (Schuller et al. 2009, "balanced accuracy").
    """
    mask = _classes_or_present(y_true, classes, n_classes)
    support = np.bincount(np.asarray(y_true, dtype=int), minlength=n_classes) > 0
    mask = mask & support
    if not mask.any():
        return 0.0
    return float(per_class_recall(y_true, y_pred, n_classes)[mask].mean())


def _scores(y_true: np.ndarray, y_pred: np.ndarray, allowed: np.ndarray) -> dict:
    n_classes = len(allowed)
    names = _class_names(n_classes)
    f1 = per_class_f1(y_true, y_pred, n_classes)
    return {
        "micro_f1": micro_f1(y_true, y_pred),
        "macro_f1": macro_f1(y_true, y_pred, n_classes, allowed),
        "uar": unweighted_average_recall(y_true, y_pred, n_classes, allowed),
        "per_class_f1": {c: (float(f1[i]) if allowed[i] else None) for i, c in enumerate(names)},
        "confusion": confusion_matrix(y_true, y_pred, n_classes).tolist(),
    }


def evaluate_predictions(logits: np.ndarray, y_true: np.ndarray, allowed: np.ndarray, prior: np.ndarray,
                         tau: float = 1.0) -> dict:
    """Score one evaluation set the paper's way (§3.1), with and without logit adjustment.

    Banned classes (``~allowed``) get −1e27 added in fp32, so they are never predicted.

    Args:
        logits (float array (N, C)): per-clip logits (e.g. :func:`protocol.clip_logits`).
        y_true (int array (N,)): hard labels (argmax of the soft label).
        allowed (bool array (C,)): scored classes (see :func:`scored_classes`).
        prior (float array (C,)): training class prior for logit adjustment.
        tau (float, optional): logit-adjustment temperature. (Default: 1.0)
    Returns:
        ``{"n": N, "allowed": [class names], "raw": scores, "adjusted": scores}`` where scores =
        ``{"micro_f1", "macro_f1", "uar"}`` (fractions in [0, 1]; macro F1 and UAR over the allowed
        classes), ``"per_class_f1"`` ({class: F1 or None for a banned class}) and ``"confusion"``
        (C×C list of int counts, rows = true, columns = predicted). JSON-serialisable.
    """
    logits = np.asarray(logits, dtype=np.float32)
    y_true = np.asarray(y_true, dtype=int)
    allowed = np.asarray(allowed, dtype=bool)
    if logits.ndim != 2 or logits.shape[1] != len(allowed) or len(logits) != len(y_true):
        raise ValueError(f"found logits {logits.shape}, y_true {y_true.shape}, allowed {allowed.shape}; "
                         f"expected (N, C), (N,), (C,)")
    raw_pred = ban_classes(logits, allowed).argmax(axis=1)
    adj_pred = ban_classes(logit_adjust(logits, prior, tau), allowed).argmax(axis=1)
    names = _class_names(len(allowed))
    return {
        "n": int(len(y_true)),
        "allowed": [c for i, c in enumerate(names) if allowed[i]],
        "raw": _scores(y_true, raw_pred, allowed),
        "adjusted": _scores(y_true, adj_pred, allowed),
    }


# --------------------------------------------------------------------------------------------
# Correlation per dimension (Hume-Prosody, paper §3.2 / Table 3)
# --------------------------------------------------------------------------------------------

def rankdata(x: np.ndarray) -> np.ndarray:
    """Ranks 1..N of a 1-D array, ties given the average of their ranks (as scipy's "average")."""
    x = np.asarray(x, dtype=np.float64)
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    # start index of each run of equal values
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    ends = np.r_[starts[1:], len(xs)]
    avg = (starts + ends + 1) / 2.0  # mean of ranks start+1 .. end
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = np.repeat(avg, ends - starts)
    return ranks


def _paired_columns(pred: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both as float64 (N, D) (a 1-D input is one column); unequal shapes raise ValueError."""
    x = np.asarray(pred, dtype=np.float64)
    y = np.asarray(target, dtype=np.float64)
    if x.ndim == 1:
        x, y = x[:, None], y[:, None]
    if x.shape != y.shape:
        raise ValueError(f"found pred {x.shape} and target {y.shape}, expected equal (N, D) shapes")
    return x, y


def pearson_per_dim(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Pearson r of each column, (N, D) and (N, D) -> (D,); NaN where a column is constant.

    r = Σ(x−x̄)(y−ȳ) / sqrt(Σ(x−x̄)² · Σ(y−ȳ)²) (Pearson 1895). The paper's Table 3 reports the
    mean of these over the 9 Hume-Prosody dimensions.
    """
    x, y = _paired_columns(pred, target)
    xc, yc = x - x.mean(axis=0), y - y.mean(axis=0)
    denom = np.sqrt((xc ** 2).sum(axis=0) * (yc ** 2).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (xc * yc).sum(axis=0) / np.where(denom > 0, denom, 1.0), np.nan)


def spearman_per_dim(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Spearman ρ of each column: Pearson r of the average-tie ranks. (N, D), (N, D) -> (D,)."""
    x, y = _paired_columns(pred, target)
    rx = np.stack([rankdata(x[:, d]) for d in range(x.shape[1])], axis=1)
    ry = np.stack([rankdata(y[:, d]) for d in range(y.shape[1])], axis=1)
    return pearson_per_dim(rx, ry)


def regression_metrics(pred: np.ndarray, target: np.ndarray, names: Sequence[str]) -> dict:
    """Pearson r and Spearman ρ per dimension and their means (Table 3's "Corr" is the mean
    Pearson r), and micro F1 of the argmax dimension (= accuracy of the top dimension).

    Args:
        pred, target: (N, T) predictions and targets; names: the T dimension names.
    """
    r = pearson_per_dim(pred, target)
    rho = spearman_per_dim(pred, target)
    return {
        "pearson_mean": float(np.nanmean(r)), "spearman_mean": float(np.nanmean(rho)),
        "argmax_micro_f1": float((pred.argmax(1) == target.argmax(1)).mean()) if len(pred) else 0.0,
        "pearson": {n: float(v) for n, v in zip(names, r, strict=True)},
        "spearman": {n: float(v) for n, v in zip(names, rho, strict=True)},
        "n": int(len(pred)),
    }
