"""Hand-computed raw scores, intensity and both neutral-smoothing variants (labels.md, paper §2.2)."""

import numpy as np
import pandas as pd
import pytest

from ser_pipeline.emotions import CLASSES, COMMON_WORDS, NEUTRAL, no_emotion_if_empty, score_vector, vote_scores
from ser_pipeline.labels.domains import domain_key, domain_vocabulary
from ser_pipeline.labels.intensity import intensity, mean_intensity
from ser_pipeline.labels.smoothing import neutral_smoothing, smoothing_alpha
from ser_pipeline.labels.splits import assign_splits, class_prior

I = {c: i for i, c in enumerate(CLASSES)}


def vec(**kw):
    e = np.zeros(8)
    for k, v in kw.items():
        e[I[k]] = v
    return e


def test_class_order_is_the_released_checkpoints():
    assert CLASSES == ("happiness", "sadness", "disgust", "fear", "surprise", "anger", "other", "neutral")


def test_score_vector_contempt_and_intensity():
    np.testing.assert_allclose(score_vector(COMMON_WORDS["contempt"]), vec(disgust=0.5))
    # RAVDESS normal intensity: weight 1 × 0.5
    np.testing.assert_allclose(score_vector({"anger": 1.0}, 0.5), vec(anger=0.5))


def test_vote_scores_multi_category_rater():
    # rater 1: anger; rater 2: anger + sadness (1/2 each); rater 3: neutral
    # anger = (1 + 0.5 + 0) / 3 = 0.5; sadness = 0.5/3 = 0.1667; neutral = 1/3
    e = vote_scores([[{"anger": 1}], [{"anger": 1}, {"sadness": 1}], [{"neutral": 1}]])
    np.testing.assert_allclose(e, vec(anger=0.5, sadness=0.5 / 3, neutral=1 / 3))
    with pytest.raises(ValueError):
        vote_scores([])


def test_no_emotion_means_neutral():
    np.testing.assert_allclose(no_emotion_if_empty(np.zeros(8)), vec(neutral=1))


def test_intensity_excludes_neutral():
    # E = 0.5 + 0.1667 (neutral 0.3333 excluded)
    e = vec(anger=0.5, sadness=1 / 6, neutral=1 / 3)
    assert intensity(e) == pytest.approx(0.5 + 1 / 6)
    assert mean_intensity(np.array([0.2, 0.4, 0.9])) == pytest.approx(0.5)
    assert mean_intensity(np.array([])) == 0.0


def test_alpha():
    # Ē = 1: E = 0.6 -> α = 0.4; E = 0.1 -> min(0.9, 0.45) = 0.45; E ≥ Ē -> 0
    np.testing.assert_allclose(smoothing_alpha(np.array([0.6, 0.1, 1.0, 1.3]), 1.0), [0.4, 0.45, 0.0, 0.0])
    np.testing.assert_allclose(smoothing_alpha(np.array([0.0, 0.5]), 0.0), [0.0, 0.0])


def test_paper_variant_labels_md_worked_example():
    # e = (hap 0.6, rest 0), Ē = 1 -> α = 0.4; hap = 0.6·0.6 + 0.4·0.4/8 = 0.38; others = 0.4/8 = 0.05
    # sum = 0.38 + 7·0.05 = 0.73 -> hap 0.5205, others 0.0685
    out = neutral_smoothing(vec(happiness=0.6)[None], np.array([0.6]), 1.0, "paper")[0]
    assert out[I["happiness"]] == pytest.approx(0.38 / 0.73, abs=1e-4)
    assert out[I["happiness"]] == pytest.approx(0.5205, abs=1e-4)
    for c in CLASSES[1:]:
        assert out[I[c]] == pytest.approx(0.0685, abs=1e-4)


def test_neutral_variant_and_primary_emotion_rule():
    # e = (anger 0.5), Ē = 1 -> α = 0.45; e' = 0.55·e + 0.45·neutral -> anger 0.275, neutral 0.45
    # neutral > anger, primary was anger -> neutral capped to 0.275 − 1e-6; normalise by 0.55 − 1e-6
    out = neutral_smoothing(vec(anger=0.5)[None], np.array([0.5]), 1.0, "neutral")[0]
    total = 0.275 + 0.275 - 1e-6
    assert out[I["anger"]] == pytest.approx(0.275 / total, rel=1e-6)
    assert out[NEUTRAL] == pytest.approx((0.275 - 1e-6) / total, rel=1e-6)
    assert out.argmax() == I["anger"]
    # e = (sad 0.9), Ē = 1 -> α = 0.1; sad 0.81, neutral 0.1 (no cap) -> /0.91
    out = neutral_smoothing(vec(sadness=0.9)[None], np.array([0.9]), 1.0, "neutral")[0]
    assert out[I["sadness"]] == pytest.approx(0.81 / 0.91)
    assert out[NEUTRAL] == pytest.approx(0.1 / 0.91)


def test_unchanged_above_mean_and_rows_sum_to_one():
    e = np.stack([vec(anger=1.0), vec(neutral=1.0), vec(fear=0.25, surprise=0.25)])
    for variant in ("neutral", "paper"):
        out = neutral_smoothing(e, intensity(e), 1.0, variant)
        np.testing.assert_allclose(out.sum(1), 1.0)
        np.testing.assert_allclose(out[0], vec(anger=1.0))  # E = Ē: unchanged
        assert out[1].argmax() == NEUTRAL
    # E = 0 (pure neutral), Ē = 1 -> α = 0.45. `neutral`: unchanged. `paper`: neutral 0.55,
    # others 0.45/8 = 0.05625; sum 0.94375 -> neutral 0.5828, others 0.0596
    np.testing.assert_allclose(neutral_smoothing(e, intensity(e), 1.0, "neutral")[1], vec(neutral=1.0))
    paper = neutral_smoothing(e, intensity(e), 1.0, "paper")[1]
    assert paper[NEUTRAL] == pytest.approx(0.55 / 0.94375) and paper[0] == pytest.approx(0.05625 / 0.94375)
    with pytest.raises(ValueError, match="variant"):
        neutral_smoothing(e, intensity(e), 1.0, "other")


def test_domain_key():
    assert domain_key("ravdess", "ravdess/03", "en") == "ravdess|03|en"
    assert domain_key("msp_podcast", None, "en") == "msp_podcast|unknown|en"
    assert domain_vocabulary(pd.Series(["b|1|en", "a|2|en", "b|1|en"])) == ["a|2|en", "b|1|en"]


def test_splits_iemocap_session4_zero_shot_and_prior():
    df = pd.DataFrame({
        "utterance_id": [f"u{i:03d}" for i in range(100)] + ["iemocap/s4", "iemocap/s1", "emodb/x"],
        "corpus": ["ravdess"] * 100 + ["iemocap", "iemocap", "emodb"],
        "speaker": ["s"] * 103,
        "official_split": [None] * 100 + ["Session4", "Session1", None],
    })
    roles = {"ravdess": "train", "iemocap": "train", "emodb": "zero_shot"}
    split = assign_splits(df, roles, validation_fraction=0.05, seed=3)
    assert split.iloc[100] == "test" and split.iloc[102] == "zero_shot"
    assert (split == "validation").sum() == 5  # round(0.05 · 101)
    assert split.equals(assign_splits(df.sample(frac=1, random_state=0).sort_index(), roles, seed=3))
    soft = pd.DataFrame([vec(anger=1.0), vec(neutral=0.5, anger=0.5)], columns=[f"soft_{c}" for c in CLASSES])
    np.testing.assert_allclose(class_prior(soft), vec(anger=0.75, neutral=0.25))


def test_training_meta_from_the_table_equals_the_old_side_file(corpus_factory, tmp_path):
    """The vocabulary and prior derived from a splits table are exactly what the `splits` asset
    wrote to splits_meta.json (computed as it did), also after the Parquet round trip that the
    training subprocess sees."""
    from ser_pipeline.corpora import get_spec, read_corpus
    from ser_pipeline.labels.harmonize import add_soft_labels, corpus_mean_intensity
    from ser_pipeline.labels.splits import training_meta

    parts = []
    for name in ("ravdess", "crema_d", "emodb"):
        table, _ = read_corpus(name, corpus_factory(name, speakers=2, per_class=1))
        parts.append(add_soft_labels(table, corpus_mean_intensity(table)))
    df = pd.concat(parts, ignore_index=True).sort_values("utterance_id", kind="stable").reset_index(drop=True)
    df = df.assign(split=assign_splits(df, {c: get_spec(c).role for c in df.corpus.unique()}, seed=0))
    train = df[df["split"] == "train"]  # the old splits asset, verbatim
    old = {"domain_vocab": domain_vocabulary(train["domain"]), "prior": [float(p) for p in class_prior(train)]}
    assert len(old["domain_vocab"]) == 4  # 2 speakers x 2 training corpora; emodb is zero-shot
    meta = training_meta(df)
    assert meta.domain_vocab == old["domain_vocab"] and meta.prior.tolist() == old["prior"]
    df[df["split"].isin(["train", "validation"])].to_parquet(tmp_path / "t.parquet")  # what training reads
    again = training_meta(pd.read_parquet(tmp_path / "t.parquet"))
    assert again.domain_vocab == old["domain_vocab"] and again.prior.tolist() == old["prior"]
    with pytest.raises(ValueError, match="training split is empty"):
        training_meta(df[df["split"] != "train"])
