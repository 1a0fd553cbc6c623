"""VESUS: crowd ids -> vote fractions; intended emotion kept as source_label."""

import csv
import shutil

import pytest

from ser_pipeline.corpora import read_corpus


def test_vesus_generated_and_hand_computed(corpus_factory, tmp_path):
    root = corpus_factory("vesus", speakers=2, per_class=2)
    m, r = read_corpus("vesus", root)
    assert len(m) == 2 * 5 * 2 and r.empty and (m.n_raters == 10).all()
    assert set(m.source_label) == {"Neutral", "Angry", "Happy", "Sad", "Fearful"}
    assert sorted(m.speaker.unique()) == ["vesus/Actor01", "vesus/Actor02"]
    assert hard_counts(m) == {'happiness': 4, 'sadness': 4, 'fear': 4, 'anger': 4, 'neutral': 4}
    assert set(m.language) == {'en'}
    bad = tmp_path / "vesus"
    shutil.copytree(root, bad)
    src = next((bad / "Audio").rglob("*.wav"))
    shutil.copy(src, bad / "Audio" / "Actor01" / "Sad" / "extra.wav")
    shutil.copy(src, bad / "Audio" / "Actor01" / "Sad" / "unlisted.wav")
    with (bad / "Tools" / "VESUS_Key.csv").open("a", newline="") as f:
        w = csv.writer(f)
        # 10 crowd ids: 6 × sadness (3), 3 × neutral (0), 1 × fear (4) -> sadness 0.6, neutral 0.3, fear 0.1
        w.writerow(["Actor01/Sad/extra.wav", "Actor01", "x", "1", "n", "9", "10", "[3, 3, 0, 3, 4, 3, 0, 3, 3, 0]", "[]"])
        w.writerow(["Actor01/Sad/broken.wav", "Actor01", "x", "1", "n", "9", "10", "[3, 3, oops", "[]"])
        w.writerow(["Actor01/Sad/gone.wav", "Actor01", "x", "1", "n", "9", "10", "[3]", "[]"])
    m, r = read_corpus("vesus", bad)
    row = m.set_index("path").loc["Audio/Actor01/Sad/extra.wav"]
    assert row.sadness == pytest.approx(0.6) and row.neutral == pytest.approx(0.3) and row.fear == pytest.approx(0.1)
    assert row.intensity == pytest.approx(0.7) and row.source_label == "Sad"
    assert dict(zip(r.path, r.reason)) == {"Audio/Actor01/Sad/broken.wav": "malformed_annotation",
                                           "Audio/Actor01/Sad/gone.wav": "audio_missing",
                                           "Audio/Actor01/Sad/unlisted.wav": "label_missing"}


def hard_counts(m):
    """Per-class counts of the hard label (argmax of the 8 raw scores); the generator is deterministic."""
    import numpy as np

    from ser_pipeline.emotions import CLASSES

    c = np.bincount(m[list(CLASSES)].to_numpy().argmax(1), minlength=8)
    return {CLASSES[i]: int(v) for i, v in enumerate(c) if v}
