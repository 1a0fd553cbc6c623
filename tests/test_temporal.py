"""Temporal-shift evaluation: hand-computed change-point scores, window construction, model run."""

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from ser_pipeline.emotions import CLASSES, SOFT_COLUMNS
from ser_pipeline.evaluation.temporal import (
    PAD,
    build_shift_windows,
    change_point_prf,
    change_points,
    evaluate_temporal,
    frame_predictions,
    mode_filter,
)


@pytest.mark.parametrize("pred, true, expected", [
    # |1.0-1.3|=0.3 ok, |2.0-1.6|=0.4 ok, |5.0-4.0|=1.0 too far -> 2 matches: P=2/3, R=2/3, F1=2/3
    ([1.0, 2.0, 5.0], [1.3, 1.6, 4.0], (2 / 3, 2 / 3, 2 / 3)),
    # greedy takes the closest pair (1.3,1.2) d=0.1 first; then (1.0,1.2) and (1.3,1.6) reuse a point
    # -> 1 match (an optimal matching would find 2): P=1/2, R=1/2, F1=1/2
    ([1.0, 1.3], [1.2, 1.6], (0.5, 0.5, 0.5)),
    # one-to-one: two predictions near one true point -> 1 match: P=1/2, R=1, F1=2·0.5·1/1.5=2/3
    ([2.0, 2.1], [2.05], (0.5, 1.0, 2 / 3)),
    # tolerance is inclusive: |1.5-1.0| = 0.5 -> match
    ([1.5], [1.0], (1.0, 1.0, 1.0)),
    ([], [1.0], (0.0, 0.0, 0.0)),
    ([], [], (1.0, 1.0, 1.0)),
])
def test_change_point_prf(pred, true, expected):
    np.testing.assert_allclose(change_point_prf(pred, true, tolerance_s=0.5), expected)


def test_change_points_and_mode_filter():
    # changes at frames 2 and 5; padding (-1) ignored; 50 Hz -> 2/50 = 0.04 s, 5/50 = 0.10 s
    np.testing.assert_allclose(change_points(np.array([0, 0, 1, 1, 1, 2, PAD, PAD])), [0.04, 0.10])
    # size 3: the lone 1 at frame 2 sees (0,1,0) -> 0; frame 5 sees (0,2,2) -> 2
    assert mode_filter(np.array([0, 0, 1, 0, 0, 2, 2, 2]), 3).tolist() == [0, 0, 0, 0, 0, 2, 2, 2]
    # ties at the ends (1 vs 1 count) keep the centre label
    assert mode_filter(np.array([1, 2]), 3).tolist() == [1, 2]
    with pytest.raises(ValueError):
        mode_filter(np.array([0, 1]), 2)


@pytest.fixture
def held_out(tmp_path):
    """4 clips: happiness 1.0 s, sadness 0.5 s, anger 1.5 s (8 kHz stereo), happiness 0.3 s."""
    rng = np.random.default_rng(0)
    specs = [("happiness", 1.0, 16000, 1), ("sadness", 0.5, 16000, 1), ("anger", 1.5, 8000, 2),
             ("happiness", 0.3, 16000, 1)]
    rows = []
    for i, (cls, dur, sr, ch) in enumerate(specs):
        data = 0.1 * rng.standard_normal((int(dur * sr), ch)).astype(np.float32)
        sf.write(tmp_path / f"c{i}.wav", data, sr)
        soft = np.zeros(8)
        soft[CLASSES.index(cls)] = 1.0
        rows.append({"utterance_id": f"toy/c{i}", "corpus": "toy", "path": f"c{i}.wav",
                     **dict(zip(SOFT_COLUMNS, soft, strict=True))})
    return pd.DataFrame(rows), {"toy": tmp_path}


def test_build_shift_windows(held_out):
    table, roots = held_out
    a = build_shift_windows(table, roots, n_windows=6, window_s=2.0, seed=3)
    b = build_shift_windows(table, roots, n_windows=6, window_s=2.0, seed=3)
    assert [w.utterance_ids for w in a] == [w.utterance_ids for w in b]
    assert all(np.array_equal(x.labels, y.labels) for x, y in zip(a, b, strict=True))
    for w in a:
        assert 2 <= len(w.classes) <= 3  # only 3 classes present
        assert len(set(w.classes)) == len(w.classes)
        assert w.labels.shape == (100,)  # 2 s · 50 Hz
        assert len(w.wave) == w.n_valid * 320
        assert np.all(w.labels[w.n_valid:] == PAD) and np.all(w.labels[: w.n_valid] != PAD)
        assert len(w.boundaries_s) == len(w.classes) - 1
        # the sadness clip is 0.5 s = 25 frames, below any budget (100/3 = 33 frames) -> kept whole
        if "toy/c1" in w.utterance_ids:
            assert np.sum(w.labels == CLASSES.index("sadness")) == 25
    with pytest.raises(ValueError, match="at least 2 emotions"):
        build_shift_windows(table.iloc[[0, 3]], roots, n_windows=1, window_s=2.0)


def test_frame_predictions_and_evaluate(held_out):
    from ser_pipeline.training.config import TrainConfig
    from ser_pipeline.model import build_model

    table, roots = held_out
    windows = build_shift_windows(table, roots, n_windows=2, window_s=2.0, seed=0)
    cfg = TrainConfig.from_dict({"window_s": 2.0})
    model = build_model(cfg.model, cfg.window_s)
    allowed = np.zeros(8, dtype=bool)
    allowed[[CLASSES.index("anger"), CLASSES.index("sadness")]] = True
    preds = frame_predictions(model, windows, prior=np.full(8, 1 / 8), allowed=allowed)
    assert [len(p) for p in preds] == [w.n_valid for w in windows]
    assert all(set(np.unique(p)) <= set(np.flatnonzero(allowed)) for p in preds)
    # perfect predictions score 1 everywhere
    perfect = [w.labels[: w.n_valid] for w in windows]
    m = evaluate_temporal(perfect, windows, filter_frames=3)
    assert m["frame_accuracy"] == 1.0 and m["cp_f1"] == 1.0 and m["cp_f1_mean"] == 1.0
    assert 0.0 <= evaluate_temporal(preds, windows)["cp_f1"] <= 1.0
