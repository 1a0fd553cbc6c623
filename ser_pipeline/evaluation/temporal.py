"""Temporal-shift evaluation: does the per-frame output follow a change of emotion?

The paper (§4) reports "strong performance in predicting emotion changes temporally" but no test
suite for it. This module builds one from held-out clips:

1. :func:`build_shift_windows` concatenates 2–4 clips of *different* emotions (hard label = argmax
   of the soft label) into one model window, so each clip boundary is a known change point and
   each frame has a known label (50 Hz: 1 frame = 320 samples = 20 ms; −1 = padding).
2. :func:`frame_predictions` runs the model once on each whole window -> per-frame argmax.
3. :func:`frame_accuracy`, :func:`change_points`, :func:`change_point_prf` (greedy one-to-one
   matching within a tolerance) and :func:`evaluate_temporal` score them.

Clips are cut at a multiple of 320 samples, so every boundary falls exactly between two frames.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ser_pipeline.audio import FRAME_RATE, SAMPLES_PER_FRAME
from ser_pipeline.emotions import SOFT_COLUMNS
from ser_pipeline.evaluation.metrics import ban_classes, logit_adjust
from ser_pipeline.audio.clips import ClipDataset
from ser_pipeline.model.emotion_model import EmotionModel

PAD = -1  # frame label of padding (no audio)


@dataclasses.dataclass(frozen=True)
class ShiftWindow:
    """One evaluation window of concatenated clips.

    Attributes:
        wave: float32 (n_samples,) at 16 kHz, n_samples a multiple of 320 and ≤ window_s·16000.
        labels: int64 (window_s·50,) class index per 50 Hz frame, −1 on padding after the audio.
        utterance_ids: the clips in order.
        classes: hard label (class index) of each clip, adjacent ones always different.
        window_s: the model window in seconds.
    """

    wave: np.ndarray
    labels: np.ndarray
    utterance_ids: tuple[str, ...]
    classes: tuple[int, ...]
    window_s: float

    @property
    def n_valid(self) -> int:
        """Frames that hold audio (labels != −1)."""
        return int(np.sum(self.labels != PAD))

    @property
    def boundaries_s(self) -> np.ndarray:
        """True change points in seconds (the clip boundaries)."""
        return change_points(self.labels)


def build_shift_windows(table: pd.DataFrame, corpus_roots: Mapping[str, str | Path], *, n_windows: int,
                        window_s: float, clips_per_window: tuple[int, int] = (2, 4),
                        seed: int = 0, cache=None) -> list[ShiftWindow]:
    """Build ``n_windows`` deterministic windows of clips with different emotions.

    For each window (one ``numpy`` generator seeded with ``seed``, so the result depends only on
    the seed and the table's row order): draw k uniformly in ``clips_per_window`` (inclusive;
    capped at the number of classes present), draw k distinct hard labels in random order, one
    random clip of each, and give each clip at most ⌊window_s·50 / k⌋ frames (a longer clip keeps
    its beginning). A clip shorter than one frame is zero-padded to 320 samples.

    Args:
        table: held-out rows (``corpus``, ``path``, ``utterance_id``, ``soft_*``; optional
            ``start_s``/``end_s``).
        corpus_roots: corpus name -> folder (table paths are relative to these).
        n_windows: number of windows.
        window_s: model window in seconds (e.g. 30).
        clips_per_window: (min, max) clips per window, min ≥ 2.
        seed: random seed.
        cache: optional :class:`ser_pipeline.audio.cache.AudioCache` to read clips from.
    Returns:
        list of :class:`ShiftWindow`.
    Raises:
        ValueError: fewer than 2 classes in ``table``, or bad ``clips_per_window``.
    """
    lo, hi = clips_per_window
    if not 2 <= lo <= hi:
        raise ValueError(f"clips_per_window must be (min, max) with 2 <= min <= max, found {clips_per_window}")
    rows = table.reset_index(drop=True)
    hard = rows[list(SOFT_COLUMNS)].to_numpy(dtype=np.float64).argmax(axis=1)
    pools = {int(c): np.flatnonzero(hard == c) for c in np.unique(hard)}
    present = np.array(sorted(pools))
    if len(present) < 2:
        raise ValueError(f"temporal windows need clips of at least 2 emotions, found {len(present)}")
    n_frames = int(round(window_s * FRAME_RATE))
    rng = np.random.default_rng(seed)
    clips = ClipDataset(rows, corpus_roots, cache=cache)  # the audio cache first, else the file
    decoded: dict[int, np.ndarray] = {}

    def wave_of(i: int) -> np.ndarray:
        if i not in decoded:
            decoded[i] = clips.wave(i)
        return decoded[i]

    windows = []
    for _ in range(n_windows):
        k = min(int(rng.integers(lo, hi + 1)), len(present))
        classes = rng.choice(present, size=k, replace=False)
        budget = n_frames // k  # frames per clip
        pieces, labels, ids = [], [], []
        for c in classes:
            i = int(rng.choice(pools[int(c)]))
            w = wave_of(i)
            f = max(1, min(budget, len(w) // SAMPLES_PER_FRAME))
            piece = np.zeros(f * SAMPLES_PER_FRAME, dtype=np.float32)
            m = min(len(w), len(piece))
            piece[:m] = w[:m]
            pieces.append(piece)
            labels.append(np.full(f, int(c), dtype=np.int64))
            ids.append(str(rows.at[i, "utterance_id"]))
        lab = np.full(n_frames, PAD, dtype=np.int64)
        cat = np.concatenate(labels)
        lab[: len(cat)] = cat
        windows.append(ShiftWindow(np.concatenate(pieces), lab, tuple(ids), tuple(int(c) for c in classes),
                                   float(window_s)))
    return windows


@torch.no_grad()
def frame_predictions(model: EmotionModel, windows: Sequence[ShiftWindow], *, prior: np.ndarray | None = None, allowed: np.ndarray | None = None, tau: float = 1.0,
                      batch_size: int = 8) -> list[np.ndarray]:
    """Per-frame argmax of the model run on each whole window.

    Args:
        model: an ``EmotionModel``; its window must be the windows' (checked).
        prior: training prior (8,) for logit adjustment z − τ·log p (Menon et al. 2021); None = off.
        allowed: bool (8,) classes that may be predicted (others +(−1e27), §3.1); None = all.
    Returns:
        one int64 array (n_valid,) per window: predicted class of each frame that holds audio.
    """
    model.eval()
    out = []
    for b in range(0, len(windows), batch_size):
        batch = windows[b: b + batch_size]
        if any(abs(w.window_s - model.window_s) > 1e-9 for w in batch):
            raise ValueError(f"shift windows of {batch[0].window_s} s do not fit the model's {model.window_s} s")
        logits = model.frame_logits([w.wave for w in batch]).cpu().numpy()  # (B, n_frames, 8)
        for j, w in enumerate(batch):
            z = logits[j, : w.n_valid]
            if prior is not None:
                z = logit_adjust(z, prior, tau)
            if allowed is not None:
                z = ban_classes(z, allowed)
            out.append(z.argmax(axis=1).astype(np.int64))
    return out


def frame_accuracy(predictions: Sequence[np.ndarray], windows: Sequence[ShiftWindow]) -> float:
    """Fraction of audio frames (pooled over windows) whose predicted class equals the true one."""
    correct = total = 0
    for p, w in zip(predictions, windows, strict=True):
        true = w.labels[: w.n_valid]
        correct += int(np.sum(np.asarray(p)[: len(true)] == true))
        total += len(true)
    return correct / total if total else 0.0


def mode_filter(labels: np.ndarray, size: int = 5) -> np.ndarray:
    """Categorical "median" filter: each frame takes the most frequent label within ``size`` frames.

    A median over class indices would depend on the arbitrary class order, so the filter takes the
    majority of the centred window (cut at the ends); on a tie the centre frame keeps its label
    if it is among the tied, else the smallest tied index wins. ``size`` must be odd; 1 = identity.
    Shape (T,) -> (T,), int64.
    """
    if size < 1 or size % 2 == 0:
        raise ValueError(f"mode_filter size must be a positive odd number of frames, found {size}")
    labels = np.asarray(labels, dtype=np.int64)
    if size == 1 or len(labels) == 0:
        return labels.copy()
    n_classes = int(labels.max()) + 1
    onehot = np.zeros((len(labels) + 1, n_classes), dtype=np.int64)
    onehot[np.arange(1, len(labels) + 1), labels] = 1
    csum = onehot.cumsum(axis=0)  # csum[i] = counts in labels[:i]
    h = size // 2
    idx = np.arange(len(labels))
    counts = csum[np.minimum(idx + h + 1, len(labels))] - csum[np.maximum(idx - h, 0)]  # (T, C)
    best = counts.max(axis=1)
    out = counts.argmax(axis=1)  # smallest tied index
    keep = counts[idx, labels] == best
    out[keep] = labels[keep]
    return out.astype(np.int64)


def change_points(labels_per_frame: np.ndarray, frame_rate: float = FRAME_RATE) -> np.ndarray:
    """Times (s) where the label changes: frame i ≥ 1 with labels[i] != labels[i−1].

    Padding (−1) is not a class: frames labelled −1 are dropped first (padding only trails the audio).
    The time of a change is the start of its first frame, i / frame_rate.
    """
    lab = np.asarray(labels_per_frame)
    valid = np.flatnonzero(lab != PAD)
    lab = lab[valid]
    i = np.flatnonzero(lab[1:] != lab[:-1]) + 1
    return valid[i] / float(frame_rate)


def match_change_points(pred_times: np.ndarray, true_times: np.ndarray,
                        tolerance_s: float = 0.5) -> list[tuple[int, int]]:
    """Greedy one-to-one matching: pairs (pred index, true index) with |p − t| ≤ tolerance.

    Candidate pairs are taken in increasing distance (ties: lower pred index, then lower true index);
    a pair is kept when neither point is matched yet. Greedy can match fewer pairs than a maximum
    bipartite matching (see the tests); it is what the brief asked for and cheap to explain.
    """
    p = np.asarray(pred_times, dtype=np.float64)
    t = np.asarray(true_times, dtype=np.float64)
    cands = sorted((abs(p[i] - t[j]), i, j) for i in range(len(p)) for j in range(len(t))
                   if abs(p[i] - t[j]) <= tolerance_s + 1e-9)
    used_p, used_t, pairs = set(), set(), []
    for _d, i, j in cands:
        if i not in used_p and j not in used_t:
            used_p.add(i)
            used_t.add(j)
            pairs.append((i, j))
    return pairs


def _prf(n_match: int, n_pred: int, n_true: int) -> tuple[float, float, float]:
    if n_pred == 0 and n_true == 0:
        return 1.0, 1.0, 1.0  # nothing to find, nothing claimed
    precision = n_match / n_pred if n_pred else 0.0
    recall = n_match / n_true if n_true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return precision, recall, f1


def change_point_prf(pred_times: np.ndarray, true_times: np.ndarray,
                     tolerance_s: float = 0.5) -> tuple[float, float, float]:
    """Precision, recall, F1 of predicted change points (:func:`match_change_points`).

    P = matched / predicted, R = matched / true, F1 = 2PR / (P + R). Both empty -> (1, 1, 1);
    otherwise an empty denominator gives 0.
    """
    m = len(match_change_points(pred_times, true_times, tolerance_s))
    return _prf(m, len(pred_times), len(true_times))


def evaluate_temporal(predictions: Sequence[np.ndarray], windows: Sequence[ShiftWindow], *,
                      tolerance_s: float = 0.5, filter_frames: int = 1) -> dict[str, float]:
    """All temporal metrics over a set of windows.

    Args:
        predictions: per-window frame predictions (:func:`frame_predictions`).
        tolerance_s: change-point matching tolerance in seconds. (Default: 0.5)
        filter_frames: odd :func:`mode_filter` size applied to predictions before change points
            are extracted (1 = off; frame accuracy always uses the unfiltered predictions).
    Returns:
        ``frame_accuracy``; ``cp_precision``/``cp_recall``/``cp_f1`` pooled over windows
        (matches, predictions and true points summed first); ``cp_f1_mean`` (mean per-window F1);
        ``n_windows``, ``n_true_cp``, ``n_pred_cp``.
    """
    n_match = n_pred = n_true = 0
    f1s = []
    for p, w in zip(predictions, windows, strict=True):
        pt = change_points(mode_filter(p, filter_frames))
        tt = w.boundaries_s
        m = len(match_change_points(pt, tt, tolerance_s))
        n_match, n_pred, n_true = n_match + m, n_pred + len(pt), n_true + len(tt)
        f1s.append(_prf(m, len(pt), len(tt))[2])
    precision, recall, f1 = _prf(n_match, n_pred, n_true)
    return {"frame_accuracy": frame_accuracy(predictions, windows), "cp_precision": precision,
            "cp_recall": recall, "cp_f1": f1, "cp_f1_mean": float(np.mean(f1s)) if f1s else 0.0,
            "n_windows": float(len(windows)), "n_true_cp": float(n_true), "n_pred_cp": float(n_pred)}

