"""Metrics: hand-computed values (arithmetic in the comments)."""

import numpy as np
import pytest

from ser_pipeline.emotions import CLASSES
from ser_pipeline.evaluation.metrics import (
    EXPECTED_SCORED,
    check_scored,
    confusion_matrix,
    evaluate_predictions,
    macro_f1,
    micro_f1,
    pearson_per_dim,
    per_class_f1,
    rankdata,
    scored_classes,
    spearman_per_dim,
    unweighted_average_recall,
)

# y_true = [0,0,1,1,2], y_pred = [0,1,1,1,0]
# confusion rows=true: [[1,1,0],[0,2,0],[1,0,0]]
# TP = (1,2,0); FP = (2-1, 3-2, 0) = (1,1,0); FN = (1,0,1)
# F1 = (2/(2+1+1), 4/(4+1+0), 0/(0+0+1)) = (0.5, 0.8, 0)  -> macro = 1.3/3
# recall = (1/2, 2/2, 0/1) -> UAR = 1.5/3 = 0.5; micro F1 = accuracy = 3/5
Y_TRUE = np.array([0, 0, 1, 1, 2])
Y_PRED = np.array([0, 1, 1, 1, 0])


def test_basic_metrics_hand_computed():
    assert confusion_matrix(Y_TRUE, Y_PRED, 3).tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    np.testing.assert_allclose(per_class_f1(Y_TRUE, Y_PRED, 3), [0.5, 0.8, 0.0])
    assert micro_f1(Y_TRUE, Y_PRED) == pytest.approx(0.6)
    assert macro_f1(Y_TRUE, Y_PRED, 3) == pytest.approx(1.3 / 3)
    assert unweighted_average_recall(Y_TRUE, Y_PRED, 3) == pytest.approx(0.5)
    # restricted to classes {0, 1}: macro = (0.5+0.8)/2 = 0.65; UAR = (0.5+1)/2 = 0.75
    assert macro_f1(Y_TRUE, Y_PRED, 3, classes=[0, 1]) == pytest.approx(0.65)
    assert unweighted_average_recall(Y_TRUE, Y_PRED, 3, classes=np.array([True, True, False])) == pytest.approx(0.75)


def test_evaluate_predictions_banning_and_adjustment():
    h, s, n = CLASSES.index("happiness"), CLASSES.index("sadness"), CLASSES.index("neutral")
    logits = np.zeros((3, 8), dtype=np.float32)
    logits[0, [h, s, n]] = [2.0, 1.0, 5.0]  # neutral is largest but banned
    logits[1, [h, s]] = [1.0, 0.5]
    logits[2, [h, s]] = [0.0, 1.0]
    y_true = np.array([h, s, s])
    allowed = scored_classes(y_true)
    prior = np.array([0.5, 0.1, 0.05, 0.05, 0.05, 0.05, 0.05, 0.15])
    out = evaluate_predictions(logits, y_true, allowed, prior)
    assert out["n"] == 3 and out["allowed"] == ["happiness", "sadness"]
    # raw: neutral banned -> preds [h, h, s]; micro 2/3
    # F1_h: TP1 FP1 FN0 = 2/3; F1_s: TP1 FP0 FN1 = 2/3; UAR = (1 + 1/2)/2 = 0.75
    raw = out["raw"]
    assert raw["micro_f1"] == pytest.approx(2 / 3)
    assert raw["macro_f1"] == pytest.approx(2 / 3)
    assert raw["uar"] == pytest.approx(0.75)
    assert raw["per_class_f1"]["neutral"] is None and raw["per_class_f1"]["disgust"] is None
    # adjusted z - log p: row0 h 2+0.693=2.69 < s 1+2.303=3.30; row1 1.69 < 2.80; row2 0.69 < 3.30
    # -> preds [s, s, s]; micro 2/3; F1_h = 0; F1_s: TP2 FP1 FN0 = 4/5; macro 0.4; UAR (0+1)/2
    adj = out["adjusted"]
    assert adj["micro_f1"] == pytest.approx(2 / 3)
    assert adj["per_class_f1"]["happiness"] == 0.0
    assert adj["per_class_f1"]["sadness"] == pytest.approx(0.8)
    assert adj["macro_f1"] == pytest.approx(0.4)
    assert adj["uar"] == pytest.approx(0.5)
    assert adj["confusion"][h][s] == 1 and adj["confusion"][s][s] == 2


def test_scored_classes_check():
    y = np.array([CLASSES.index(c) for c in ("anger", "happiness", "neutral", "sadness", "sadness")])
    allowed = scored_classes(y)
    check_scored("urdu", allowed)  # exactly URDU's 4 classes
    with pytest.raises(ValueError, match=r"missing \['disgust', 'fear'\]"):
        check_scored("emodb", allowed)
    check_scored("some_new_set", allowed)  # unknown sets are not checked
    assert set(EXPECTED_SCORED) == {"validation", "iemocap_s4", "emodb", "masc", "urdu", "aesdd"}
    assert all(set(v) <= set(CLASSES) for v in EXPECTED_SCORED.values())


def test_rank_pearson_spearman():
    # sorted values 1,2,3,3 -> ranks 1,2,(3+4)/2,(3+4)/2
    np.testing.assert_allclose(rankdata([3, 1, 3, 2]), [3.5, 1, 3.5, 2])
    # x=[1,2,3], y=[2,4,7]: xc=[-1,0,1], yc=[-7/3,-1/3,8/3]; Σxy=5, Σx²=2, Σy²=114/9
    # r = 5 / sqrt(2·114/9) = 0.993399
    x = np.array([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    y = np.array([[2.0, 5.0], [4.0, 5.0], [7.0, 5.0]])
    r = pearson_per_dim(x, y)
    assert r[0] == pytest.approx(5 / np.sqrt(2 * 114 / 9))
    assert np.isnan(r[1])  # constant target column
    # x=[1,2,2,3] -> ranks [1,2.5,2.5,4]; y ranks [1,2,3,4]
    # centred: [-1.5,0,0,1.5]·[-1.5,-0.5,0.5,1.5] = 4.5; Σ=4.5 and 5 -> ρ = 4.5/sqrt(22.5)
    rho = spearman_per_dim(np.array([1, 2, 2, 3.0]), np.array([10, 20, 30, 40.0]))
    assert rho[0] == pytest.approx(4.5 / np.sqrt(22.5))
