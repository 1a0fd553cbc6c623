"""OGVC (acted, intensities 0-3, stereo sources) and STUDIES (transcripts paired by order)."""

import shutil

import numpy as np
import pytest

from ser_pipeline.corpora import read_corpus
from ser_pipeline.emotions import CLASSES


def test_ogvc_intensity_scores_and_rejects(corpus_factory, tmp_path):
    root = corpus_factory("ogvc", speakers=2, per_class=2)
    m, r = read_corpus("ogvc", root)
    assert len(m) == 2 * 8 * 2 and r.empty
    assert sorted(m.speaker.unique()) == ["ogvc/FOY", "ogvc/MKT"] and set(m.channels) == {1, 2}
    rows = m.set_index("source_label")
    ang = m[m.source_label.str.startswith("ANG")].set_index("source_label")
    for label, row in ang.iterrows():
        level = int(label[-1])
        if level == 0:  # intensity 0: no perceived emotion -> neutral 1
            assert row.neutral == 1.0 and row.anger == 0.0
        else:  # e.g. ANG2 -> anger 2/3
            assert row.anger == pytest.approx(level / 3) and row.intensity == pytest.approx(level / 3)
    assert rows.filter(like="ACC", axis=0)["other"].max() > 0  # acceptance -> other
    bad = tmp_path / "ogvc"
    shutil.copytree(root, bad)
    src = next(bad.rglob("*.wav"))
    shutil.copy(src, bad / "Acted" / "wav" / "natural_0001.wav")
    shutil.copy(src, bad / "Acted" / "wav" / "FOY0101XYZ1.wav")
    _, r = read_corpus("ogvc", bad)
    assert dict(zip(r.path, r.reason)) == {"Acted/wav/natural_0001.wav": "label_missing",
                                           "Acted/wav/FOY0101XYZ1.wav": "unknown_label"}


def test_studies_pairs_lines_with_speaker_wavs(corpus_factory, tmp_path):
    root = corpus_factory("studies", speakers=3, per_class=1)
    m, r = read_corpus("studies", root)
    assert len(m) == 2 * 3 * 4 and r.empty  # 2 subsets × 3 speakers × 4 emotions
    hard = np.bincount(m[list(CLASSES)].to_numpy().argmax(1), minlength=8)
    assert {CLASSES[i] for i in np.flatnonzero(hard)} == {"neutral", "happiness", "sadness", "anger"}
    teacher = m[m.speaker == "studies/Teacher"].sort_values("path")
    assert teacher.source_label.tolist()[:4] == ["平静", "喜び", "悲しみ", "怒り"]  # sorted order pairing
    assert set(m.gender[m.speaker == "studies/MStudent"]) == {"M"}
    bad = tmp_path / "studies"
    shutil.copytree(root, bad)
    txt = bad / "Long_dialogue" / "LD01" / "txt" / "LD01.txt"
    txt.write_text(txt.read_text(encoding="utf-8") + "講師|平静|extra|0\nbroken line\n", encoding="utf-8")
    m2, r2 = read_corpus("studies", bad)
    assert sorted(r2.reason) == ["audio_missing", "malformed_annotation"] and len(m2) == len(m)
