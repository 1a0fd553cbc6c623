"""The experiments core (issue 19): variants, statistics, k-shot selection, study tables."""

import numpy as np
import pandas as pd
import pytest

from ser_pipeline.audio.packing import pack_windows
from ser_pipeline.emotions import CLASSES, SOFT_COLUMNS
from ser_pipeline.experiments import few_shot, stats, study
from ser_pipeline.experiments.variants import (FACTORS, ONE_CLIP_FILL, ablation_variants, make_variant, relabel,
                                               variant_by_name)
from ser_pipeline.labels.harmonize import corpus_mean_intensity
from ser_pipeline.labels.smoothing import neutral_smoothing


def _table(n_speakers=4, per=3, seed=0) -> pd.DataFrame:
    """Rows with raw scores, intensity and soft labels; classes 0..3, ``per`` clips per speaker and class."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_speakers):
        for c in range(4):
            for i in range(per):
                raw = np.zeros(8)
                raw[c] = 0.7
                raw[rng.integers(8)] += 0.3
                rows.append({"utterance_id": f"x/{s}_{c}_{i}", "corpus": "x", "speaker": f"x/{s}",
                             "intensity": float(rng.uniform(0.1, 1.0)), **dict(zip(CLASSES, raw, strict=True))})
    t = pd.DataFrame(rows)
    soft = neutral_smoothing(t[list(CLASSES)].to_numpy(), t["intensity"].to_numpy(), corpus_mean_intensity(t))
    return t.assign(**dict(zip(SOFT_COLUMNS, soft.T, strict=True)))


def test_ablation_variants_differ_from_the_base_in_one_factor():
    vs = ablation_variants(["augment", "domain"])
    assert [v.name for v in vs] == ["base", "augment-off", "domain-paper", "domain-off"]
    base = dict(vs[0].levels)
    for v in vs[1:]:
        assert sum(base[f] != lv for f, lv in v.levels) == 1
    assert len(ablation_variants()) == 1 + sum(len(ls) - 1 for ls in FACTORS.values())
    with pytest.raises(ValueError, match="unknown ablation factor"):
        ablation_variants(["colour"])
    with pytest.raises(ValueError, match="unknown ablation variant 'augment-maybe'"):
        variant_by_name("augment-maybe")


def test_variant_train_config_sets_only_its_factor():
    base = {"epochs": 1, "window_s": 4.0, "augment": {"p": 0.5}, "seed": 10}
    cfg = make_variant("augment", "off").train_config(base, seed=2)
    assert cfg.augment == {"p": 0.5, "enabled": False} and cfg.specaugment["enabled"] is True
    assert cfg.domain_loss == "grl" and cfg.seed == 12 and cfg.fill == 0.8 and cfg.epochs == 1
    assert make_variant("domain", "paper").train_config(base).domain_loss == "paper"
    assert make_variant("packing", "one_clip").train_config(base).fill == ONE_CLIP_FILL
    assert make_variant("specaugment", "off").train_config(base).specaugment == {"enabled": False}


def test_one_clip_fill_closes_every_window_after_one_clip():
    d = np.random.default_rng(0).uniform(0.5, 3.0, size=200)
    windows = pack_windows(d, window_s=30.0, fill=ONE_CLIP_FILL, seed=1)
    assert len(windows) == 200 and all(len(w) == 1 for w in windows)
    assert max(len(w) for w in pack_windows(d, window_s=30.0, fill=0.8, seed=1)) > 1  # Algorithm 1 packs several


def test_relabel_levels():
    t = _table()
    same = relabel(t, "neutral")
    np.testing.assert_allclose(same[list(SOFT_COLUMNS)], t[list(SOFT_COLUMNS)])
    none = relabel(t, "none")
    raw = t[list(CLASSES)].to_numpy()
    np.testing.assert_allclose(none[list(SOFT_COLUMNS)].to_numpy(), raw / raw.sum(axis=1, keepdims=True))
    hard = make_variant("labels", "hard").label_table(t)
    soft = hard[list(SOFT_COLUMNS)].to_numpy()
    assert set(np.unique(soft)) == {0.0, 1.0} and (soft.sum(axis=1) == 1).all()
    assert (soft.argmax(axis=1) == t[list(SOFT_COLUMNS)].to_numpy().argmax(axis=1)).all()
    paper = relabel(t, "paper")[list(SOFT_COLUMNS)].to_numpy()
    assert not np.allclose(paper, t[list(SOFT_COLUMNS)].to_numpy())
    np.testing.assert_allclose(paper.sum(axis=1), 1.0)


def test_seed_summary_and_overlap_by_hand():
    s = stats.seed_summary([0.5, 0.7, 0.6])
    assert s.mean == pytest.approx(0.6) and s.std == pytest.approx(0.1) and s.n_runs == 3
    assert stats.seed_summary([0.4]).std == 0.0
    assert stats.intervals_overlap((0.1, 0.3), (0.3, 0.5)) and not stats.intervals_overlap((0.1, 0.29), (0.3, 0.5))


def test_bootstrap_interval():
    assert stats.bootstrap_micro_f1(np.ones(50)) == (1.0, 1.0)  # no variation: a point
    c = np.array([1] * 30 + [0] * 70)
    lo, hi = stats.bootstrap_micro_f1(c, n=1000, seed=0)
    se = np.sqrt(0.3 * 0.7 / 100)  # binomial standard error: the interval is about ±1.96·se
    assert lo == pytest.approx(0.3 - 1.96 * se, abs=0.02) and hi == pytest.approx(0.3 + 1.96 * se, abs=0.02)
    assert stats.bootstrap_micro_f1(c, seed=0) == (lo, hi)
    # two runs on the same clips: the interval is about the mean of per-clip correctness
    two = np.stack([c, np.ones(100)])
    lo2, hi2 = stats.bootstrap_micro_f1(two, seed=0)
    assert lo2 < 0.65 < hi2


def test_k_shot_selection_is_speaker_disjoint_and_k_per_class():
    t = _table(n_speakers=6, per=3)
    shots = few_shot.shot_speakers(t, fraction=0.5, seed=3)
    test = few_shot.test_part(t, shots)
    assert len(shots) == 3 and not set(shots) & set(test["speaker"])
    for k in (1, 2, 5):
        ks = few_shot.select_k_shot(t, k, shots, seed=0)
        assert set(ks["speaker"]) <= set(shots) and not set(ks.index) & set(test.index)
        assert few_shot.shots_per_class(ks) == {c: k for c in CLASSES[:4]}
        if k == 2:  # round-robin: two shots of a class come from two speakers
            label = ks[list(SOFT_COLUMNS)].to_numpy().argmax(axis=1)
            assert all(ks[label == c]["speaker"].nunique() == 2 for c in range(4))
    assert few_shot.shots_per_class(few_shot.select_k_shot(t, 20, shots)) == {c: 9 for c in CLASSES[:4]}
    assert few_shot.select_k_shot(t, 0, shots).empty
    with pytest.raises(ValueError, match=">= 2 speakers"):
        few_shot.shot_speakers(t[t["speaker"] == "x/0"])


def _record(key, seed, correct, macro=0.5):
    c = np.array(correct)
    return {"key": key, "seed": seed, "child_run_id": f"run-{key}-{seed}",
            "sets": {"emodb": {"n": len(c), "micro_f1": float(c.mean()), "macro_f1": macro, "correct": c.tolist()}}}


def test_comparison_table_shape_stats_and_provenance(tmp_path):
    runs = [_record("base", 0, [1] * 8 + [0] * 2), _record("base", 1, [1] * 6 + [0] * 4),
            _record("augment-off", 0, [0] * 10, macro=0.1)]
    t = study.comparison_table(runs)
    assert list(t["variant"]) == ["base", "augment-off"]
    base = t.iloc[0]
    assert base["emodb.micro_mean"] == pytest.approx(0.7) and base["emodb.micro_std"] == pytest.approx(0.1414, abs=1e-4)
    assert base["emodb.n_runs"] == 2 and base["child_run_ids"] == "run-base-0;run-base-1"
    off = t.iloc[1]
    assert off["emodb.ci_low"] == off["emodb.ci_high"] == 0.0 and off["emodb.overlaps_base"] == False  # noqa: E712
    md = study.comparison_markdown(t)
    assert "| augment-off | 0.0 ± 0.0 / 10.0 ± 0.0 [0.0, 0.0] n=1 |" in md
    paths = study.write_table(t, tmp_path, "ablation", md)
    assert pd.read_csv(paths["csv"]).shape == t.shape
    assert study.comparison_plot(t, tmp_path / "ablation.png").stat().st_size > 0


def test_loco_matrix_and_few_shot_table(tmp_path):
    def rec(key, sets):
        return {"key": key, "child_run_id": f"r-{key}", "sets": {
            s: {"n": len(c), "micro_f1": float(np.mean(c)), "macro_f1": 0.2, "correct": c} for s, c in sets.items()}}
    runs = [rec("none", {"val:a": [1, 1], "val:b": [1, 0], "emodb": [1, 0, 0]}),
            rec("a", {"all:a": [1, 0, 0, 0], "val:a": [0, 1], "val:b": [1, 1], "emodb": [0, 0, 0]})]
    m = study.loco_matrix(runs)
    assert list(m["held_out"]) == ["a", "none"]
    a = m.iloc[0]
    assert a["micro_f1"] == 0.25 and a["in_domain_micro_f1"] == 1.0 and a["drop"] == 0.5
    assert a["emodb.micro_f1"] == 0.0 and a["child_run_id"] == "r-a"
    assert study.loco_heatmap(m, tmp_path / "loco.png").exists()
    fs = [{"set": "emodb", "k": k, "n_shots": 8 * k, "child_run_id": f"f{k}",
           "sets": {"emodb": {"n": 4, "micro_f1": k / 10, "macro_f1": 0.1, "correct": [1, 0, 0, 0]}}} for k in (5, 0, 1)]
    t = study.few_shot_table(fs)
    assert list(t["k"]) == [0, 1, 5] and list(t["child_run_id"]) == ["f0", "f1", "f5"]
    assert study.few_shot_plot(t, tmp_path / "fs.png").exists()


def test_a_model_trained_without_domain_head_loads_from_its_export(tmp_path):
    """The ablation's domain-off arm: the export used to list the domain vocabulary, so loading it
    asked for a domain head the model never had."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from train_helpers import DOMAINS, ToneWaves, tiny_config, tiny_table

    from ser_pipeline.model.export import load_model
    from ser_pipeline.training.callbacks import PrintCallback
    from ser_pipeline.training.loop import train

    table = tiny_table(8)
    r = train(tiny_config(epochs=1, domain_loss="off"), table, None, {}, domain_vocab=sorted(DOMAINS),
              prior=np.full(8, 1 / 8), out_dir=tmp_path, callback=PrintCallback(), wave_fn=ToneWaves(table))
    model, meta = load_model(r.export_dir)
    assert meta["n_domains"] == 0 and model.domain_head is None
