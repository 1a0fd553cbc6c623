"""STUDIES: transcripts paired with each speaker's wavs by order."""

import shutil

import numpy as np
import pytest

from ser_pipeline.corpora import read_corpus
from ser_pipeline.emotions import CLASSES


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
