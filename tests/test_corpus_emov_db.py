import shutil

import numpy as np
import pytest

from ser_pipeline.corpora import read_corpus
from ser_pipeline.emotions import CLASSES
from ser_pipeline.synth.layouts.emov_db import write_layout

SPEAKERS = ["emov_db/bea", "emov_db/jenie", "emov_db/josh", "emov_db/sam"]


def _check(manifest, rejects, prefix):
    # 3 speakers x 5 styles x 2 + josh 3 styles x 2
    assert len(manifest) == 36
    assert rejects.empty
    counts = np.bincount(manifest[list(CLASSES)].to_numpy().argmax(1), minlength=8)
    # happiness (Amused) 8, disgust 6, anger 6, other (Sleepy) 8, neutral 8
    assert counts.tolist() == [8, 0, 6, 0, 0, 6, 8, 8]
    assert sorted(manifest.speaker.unique()) == SPEAKERS
    assert set(manifest.language) == {"en"}
    rates = manifest.groupby("speaker").sample_rate.unique().map(list).to_dict()
    assert rates == {"emov_db/bea": [44100], "emov_db/jenie": [16000], "emov_db/josh": [16000],
                     "emov_db/sam": [16000]}
    assert manifest.groupby("speaker").gender.first().tolist() == ["F", "F", "M", "M"]
    by_path = manifest.set_index("path")
    # irregular names are kept: capitalised word, underscore range, sentence outside the range
    row = by_path.loc[f"{prefix('sam', 'Disgusted')}/Disgust_1-28_0001.wav"]
    assert (row.disgust, row.sentence, row.source_label) == (1.0, "0001", "Disgusted")
    row = by_path.loc[f"{prefix('bea', 'Sleepy')}/sleepiness_1_28_0001.wav"]
    assert (row.other, row.sadness, row.intensity, row.sample_rate) == (1.0, 0.0, 1.0, 44100)
    assert by_path.loc[f"{prefix('jenie', 'Angry')}/anger_29-56_0004.wav", "sentence"] == "0004"
    assert by_path.loc[f"{prefix('josh', 'Amused')}/amused_1-28_0001.wav", "happiness"] == 1.0


@pytest.mark.slow  # generates the default 4-speaker corpus
def test_emov_db_sorted_layout(corpus_factory):
    root = corpus_factory("emov_db")  # default: 4 speakers, per_class 2
    manifest, rejects = read_corpus("emov_db", root)
    _check(manifest, rejects, lambda spk, style: f"{spk}/{style}")
    assert manifest.set_index("path").loc["bea/Amused/amused_1-28_0001.wav", "text"].startswith("Author")


def test_emov_db_emobox_layout(tmp_path):
    write_layout(tmp_path, seed=0, speakers=None, per_class=2, layout="emobox")
    assert sorted(p.name for p in tmp_path.iterdir())[:2] == ["bea_Amused", "bea_Angry"]
    manifest, rejects = read_corpus("emov_db", tmp_path)
    _check(manifest, rejects, lambda spk, style: f"{spk}_{style}")
    assert manifest.text.isna().all()


def test_emov_db_rejects(corpus_factory, tmp_path):
    root = tmp_path / "emov"
    shutil.copytree(corpus_factory("emov_db"), root)
    (root / "sam" / "Angry" / "anger_1-28_0001.wav").write_bytes(b"RIFF\x00\x00junk")
    (root / "sam" / "Happy").mkdir()
    shutil.copy(root / "sam" / "Neutral" / "Neutral_1-28_0001.wav", root / "sam" / "Happy" / "happy_1-28_0001.wav")
    shutil.copy(root / "sam" / "Neutral" / "Neutral_1-28_0001.wav", root / "stray.wav")
    manifest, rejects = read_corpus("emov_db", root)
    assert dict(zip(rejects.path, rejects.reason)) == {
        "sam/Angry/anger_1-28_0001.wav": "unreadable_audio",
        "sam/Happy/happy_1-28_0001.wav": "unknown_label",
        "stray.wav": "label_missing",
    }
    assert len(manifest) + len(rejects) == 36 + 2


def test_emov_db_layout_option_is_checked(tmp_path):
    with pytest.raises(ValueError, match="layout"):
        write_layout(tmp_path, seed=0, speakers=1, per_class=1, layout="flat")
