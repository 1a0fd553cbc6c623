"""AESDD, URDU and MASC on their generated layouts; each scores exactly labels.md's classes."""

import shutil

import numpy as np
import pytest

from ser_pipeline.corpora import read_corpus
from ser_pipeline.emotions import CLASSES
from ser_pipeline.evaluation.metrics import EXPECTED_SCORED


def hard(m):
    return {CLASSES[i]: int(n) for i, n in enumerate(np.bincount(m[list(CLASSES)].to_numpy().argmax(1), minlength=8)) if n}


def test_aesdd(corpus_factory):
    m, r = read_corpus("aesdd", corpus_factory("aesdd", speakers=3, per_class=2))
    # 3 speakers × 5 emotions × 2 + one extra "b" take; the unreadable s05 (3) is a reject
    assert len(m) == 31 and r.reason.tolist() == ["unreadable_audio"] and r.path[0] == "sadness/s05 (3).wav"
    assert hard(m) == {"anger": 7, "disgust": 6, "fear": 6, "happiness": 6, "sadness": 6}
    assert set(hard(m)) == set(EXPECTED_SCORED["aesdd"])
    assert sorted(m.speaker.unique()) == ["aesdd/1", "aesdd/2", "aesdd/3"]  # "(01)" is speaker 1
    assert set(m.sample_rate) == {44100} and set(m.language) == {"el"}
    assert "anger/a01 (2)b.wav" in set(m.path)


def test_urdu(corpus_factory):
    m, r = read_corpus("urdu", corpus_factory("urdu", speakers=3, per_class=2))
    assert len(m) == 3 * 4 * 2 and r.empty
    assert hard(m) == {"happiness": 6, "sadness": 6, "anger": 6, "neutral": 6}
    assert set(hard(m)) == set(EXPECTED_SCORED["urdu"])
    assert dict(zip(m.speaker, m.gender)) == {"urdu/SM1": "M", "urdu/SF2": "F", "urdu/SM3": "M"}
    assert set(m.sample_rate) == {44100} and set(m.channels) == {1} and set(m.language) == {"ur"}


def test_masc(corpus_factory):
    m, r = read_corpus("masc", corpus_factory("masc", speakers=3, per_class=2))
    assert len(m) == 3 * (5 * 2 + 1) and r.empty  # + one neutral paragraph per speaker
    assert hard(m) == {"happiness": 6, "fear": 6, "anger": 6, "neutral": 9, "sadness": 6}
    assert set(hard(m)) == set(EXPECTED_SCORED["masc"])
    assert m.set_index("path").loc["data/001/panic/001_panic_s01_1.wav"].fear == 1.0  # panic -> fear
    assert set(m.sample_rate) == {22050} and sorted(m.speaker.unique()) == ["masc/001", "masc/002", "masc/003"]
    assert set(m.language) == {"zh"} and m.official_split.isna().all()


def test_zero_shot_rejects(corpus_factory, tmp_path):
    root = tmp_path / "urdu"
    shutil.copytree(corpus_factory("urdu", speakers=3, per_class=2), root)
    (root / "Angry" / "SM1_F1_A01.wav").rename(root / "Angry" / "SM1_F1_H99.wav")  # letter vs folder
    (root / "Other").mkdir()
    shutil.copy(root / "Sad" / "SM1_F7_S01.wav", root / "Other" / "x.wav")
    m, r = read_corpus("urdu", root)
    assert dict(zip(r.path, r.reason)) == {"Angry/SM1_F1_H99.wav": "malformed_annotation",
                                           "Other/x.wav": "label_missing"}
    assert len(m) + len(r) == 3 * 4 * 2 + 1
    root = tmp_path / "masc"
    shutil.copytree(corpus_factory("masc", speakers=3, per_class=2), root)
    shutil.copy(next(root.rglob("*.wav")), root / "data" / "stray.wav")
    _, r = read_corpus("masc", root)
    assert r.reason.tolist() == ["label_missing"]
