"""IEMOCAP on its generated layout: per-rater votes, self-evaluations ignored, sessions, speakers."""

import shutil

import numpy as np
import pytest

from ser_pipeline.corpora import get_spec, read_corpus
from ser_pipeline.emotions import CLASSES
from ser_pipeline.labels.splits import assign_splits


def test_iemocap_generated_layout(corpus_factory):
    m, r = read_corpus("iemocap", corpus_factory("iemocap", speakers=4, per_class=2))
    assert len(m) == 2 * 7 * 2 and r.empty  # 2 sessions × 7 acted emotions × 2
    assert m.official_split.value_counts().to_dict() == {"Session1": 14, "Session4": 14}
    assert sorted(m.speaker.unique()) == ["iemocap/Ses01F", "iemocap/Ses01M", "iemocap/Ses04F", "iemocap/Ses04M"]
    assert (m.n_raters == 3).all() and set(m.sample_rate) == {16000}
    assert hard_counts(m) == {'happiness': 9, 'sadness': 4, 'surprise': 6, 'anger': 6, 'neutral': 3}
    assert set(m.language) == {'en'}
    assert (m.source_label == "xxx").sum() == 2 * 7  # i = 0 of each pair: kept, votes are the label
    split = assign_splits(m, {"iemocap": get_spec("iemocap").role}, validation_fraction=0.0)
    assert set(split[m.official_split == "Session4"]) == {"test"}
    assert set(split[m.official_split == "Session1"]) == {"train"}


def test_iemocap_hand_computed_votes_and_rejects(corpus_factory, tmp_path):
    root = tmp_path / "iemocap"
    shutil.copytree(corpus_factory("iemocap", speakers=4, per_class=2), root)
    wav = next((root / "Session1" / "sentences" / "wav").rglob("*.wav"))
    d = root / "Session2" / "sentences" / "wav" / "Ses02F_impro01"
    d.mkdir(parents=True)
    shutil.copy(wav, d / "Ses02F_impro01_F000.wav")
    shutil.copy(wav, d / "Ses02F_impro01_M001.wav")  # audio no block lists
    ev = root / "Session2" / "dialog" / "EmoEvaluation"
    ev.mkdir(parents=True)
    (ev / "Ses02F_impro01.txt").write_text(
        "% header\n\n"
        "[0.0000 - 2.0000]\tSes02F_impro01_F000\tfru\t[2.0, 3.0, 3.0]\n"
        "C-E1:\tFrustration; Anger;\t()\nC-E2:\tAnger;\t()\nC-E3:\tNeutral state;\t()\nC-F1:\tSadness;\t()\n"
        "A-E1:\tval 2; act 3; dom  3;\t()\n\n"
        "[2.0000 - 4.0000]\tSes02F_impro01_F002\tang\t[2.0, 3.0, 3.0]\nC-E1:\tAnger;\t()\n\n"
        "[4.0000 - 5.0000]\tnot_an_id\tang\t[2.0, 3.0, 3.0]\nC-E1:\tAnger;\t()\n")
    m, r = read_corpus("iemocap", root)
    row = m.set_index("utterance_id").loc["iemocap/Session2/sentences/wav/Ses02F_impro01/Ses02F_impro01_F000"]
    # E1 lists 2 categories: Frustration (anger 0.5) × 1/2 + Anger × 1/2 = anger 0.75; E2 anger 1; E3 neutral 1;
    # the actor's self-evaluation C-F1 is ignored: anger (0.75 + 1 + 0) / 3, neutral 1/3, sadness 0
    assert row.anger == pytest.approx(1.75 / 3) and row.neutral == pytest.approx(1 / 3) and row.sadness == 0
    assert row.n_raters == 3 and row.speaker == "iemocap/Ses02F" and row.official_split == "Session2"
    reasons = dict(zip(r.path, r.reason))
    assert reasons["Session2/sentences/wav/Ses02F_impro01/Ses02F_impro01_F002.wav"] == "audio_missing"
    assert reasons["Session2/sentences/wav/Ses02F_impro01/Ses02F_impro01_M001.wav"] == "label_missing"
    assert any(v == "malformed_annotation" for v in reasons.values())
    hard = np.bincount(m[list(CLASSES)].to_numpy().argmax(1), minlength=8)
    assert hard.sum() == len(m)


def hard_counts(m):
    """Per-class counts of the hard label (argmax of the 8 raw scores); the generator is deterministic."""
    import numpy as np

    from ser_pipeline.emotions import CLASSES

    c = np.bincount(m[list(CLASSES)].to_numpy().argmax(1), minlength=8)
    return {CLASSES[i]: int(v) for i, v in enumerate(c) if v}
