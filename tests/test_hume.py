"""Hume-Prosody: the reader's 9 targets and unlabelled test rows, and the fine-tune (paper §3.2)."""

import shutil

import numpy as np
import pytest

from ser_pipeline.corpora import read_corpus
from ser_pipeline.corpora.hume_prosody import TARGET_COLUMNS
from ser_pipeline.emotions import RELEASED_PRIOR
from ser_pipeline.training.config import TrainConfig
from ser_pipeline.evaluation.metrics import regression_metrics
from ser_pipeline.model import build_model, export_model, load_model
from ser_pipeline.model.clips import clip_sigmoid
from ser_pipeline.training.finetune import finetune_regression


def test_reader_targets_and_test_rows(corpus_factory, tmp_path):
    root = corpus_factory("hume_prosody", speakers=1, per_class=2)
    m, r = read_corpus("hume_prosody", root)
    assert len(m) == 3 * 6 * 2 and r.empty
    assert m.groupby("official_split").size().to_dict() == {"devel": 12, "test": 12, "train": 12}
    test = m[m.official_split == "test"]
    assert (~test.has_targets.astype(bool)).all() and test[list(TARGET_COLUMNS)].isna().all().all()
    labelled = m[m.official_split != "test"]
    assert labelled[list(TARGET_COLUMNS)].notna().all().all() and (m.neutral == 1.0).all()
    first = (root / "lab" / "train.csv").read_text().splitlines()[1].split(",")
    row = m.set_index("path").loc[f"wav/{first[0]}"]
    assert row.hume_anger == pytest.approx(float(first[1])) and row.hume_tiredness == pytest.approx(float(first[9]))
    # a malformed line and a listed-but-missing file become rejects
    bad = tmp_path / "hume"
    shutil.copytree(root, bad)
    with open(bad / "lab" / "devel.csv", "a") as f:
        f.write("devel_99999.wav,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9\n" + f"{first[0]},x,,,,,,,,\n")
    _, r = read_corpus("hume_prosody", bad)
    assert sorted(r.reason) == ["audio_missing", "malformed_annotation"]


def test_finetune_on_nine_targets(corpus_factory, tmp_path):
    root = corpus_factory("hume_prosody", speakers=1, per_class=2)
    m, _ = read_corpus("hume_prosody", root)
    cfg = TrainConfig.from_dict({"window_s": 4.0, "device": "cpu", "model": {"d_model": 16, "encoder_layers": 1,
                                 "encoder_attention_heads": 2, "encoder_ffn_dim": 32}})
    export = export_model(build_model(cfg.model, cfg.window_s), tmp_path / "base", prior=RELEASED_PRIOR)
    ft = TrainConfig.from_dict({"epochs": 2, "batch_size": 2, "lr": 1e-3, "device": "cpu"})
    result = finetune_regression(export, m[m.official_split == "train"], m[m.official_split == "devel"],
                                 {"hume_prosody": root}, list(TARGET_COLUMNS), ft, tmp_path / "ft",
                                 devel_scorer=regression_metrics)
    assert result.steps >= 1 and np.isfinite(result.final_loss)
    assert set(result.devel) >= {"pearson_mean", "spearman_mean", "argmax_micro_f1", "pearson"}
    model, meta = load_model(result.export_dir)
    assert model.head.out_features == 9 and model.domain_head is None
    p = clip_sigmoid(model, m[m.official_split == "test"], {"hume_prosody": root})
    assert p.shape == (12, 9) and ((p > 0) & (p < 1)).all()  # sigmoid outputs


def test_regression_metrics_hand_computed():
    pred = np.array([[0.1, 0.9], [0.2, 0.8], [0.3, 0.1]])
    target = np.array([[0.0, 1.0], [0.5, 0.5], [1.0, 0.0]])
    # dim 0: pred 0.1,0.2,0.3 vs target 0,0.5,1 -> both increase linearly -> r = 1
    # dim 1: pred 0.9,0.8,0.1 vs 1,0.5,0: r = 0.87 (hand: cov/std)
    out = regression_metrics(pred, target, ["a", "b"])
    assert out["pearson"]["a"] == pytest.approx(1.0)
    x, y = np.array([0.9, 0.8, 0.1]), np.array([1.0, 0.5, 0.0])
    r = ((x - x.mean()) * (y - y.mean())).sum() / np.sqrt(((x - x.mean()) ** 2).sum() * ((y - y.mean()) ** 2).sum())
    assert out["pearson"]["b"] == pytest.approx(r) and out["pearson_mean"] == pytest.approx((1 + r) / 2)
    assert out["spearman"]["b"] == pytest.approx(1.0)  # same ranks
    assert out["argmax_micro_f1"] == pytest.approx(2 / 3)  # rows 1 and 3 agree
