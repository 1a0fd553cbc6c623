import shutil

import numpy as np

from ser_pipeline.corpora import read_corpus
from ser_pipeline.corpora.asvp_esd import LABEL_MAP
from ser_pipeline.emotions import CLASSES

A1 = "Audio/actor_1"


def test_asvp_generated_layout(corpus_factory):
    root = corpus_factory("asvp_esd")  # default: actors 1 and 2, per_class 2
    manifest, rejects = read_corpus("asvp_esd", root)
    # 2 actors x 13 codes x 2 + actor_ (1) + Bonus/actor_150 (2)
    assert len(manifest) == 55
    assert dict(zip(rejects.path, rejects.reason)) == {
        f"{A1}/03-01-04-04-90-01-02-03-02.wav": "malformed_annotation",  # stray intensity 04
        f"{A1}/03-02-17-01-91-01-02-01.wav": "unknown_label",  # code 17
    }
    counts = np.bincount(manifest[list(CLASSES)].to_numpy().argmax(1), minlength=8)
    # happiness 03/09/10 x4 + actor_ + baby; sadness 04/12 x4 + baby; other 01/11/13 x4
    assert counts.tolist() == [14, 9, 4, 4, 4, 4, 12, 4]
    assert sorted(manifest.speaker.unique()) == ["asvp_esd/1", "asvp_esd/2", "asvp_esd/7", "asvp_esd/bonus_150"]
    assert manifest.groupby("speaker").gender.first().to_dict() == {
        "asvp_esd/1": "F", "asvp_esd/2": "M", "asvp_esd/7": "F", "asvp_esd/bonus_150": "M"}
    assert manifest.groupby("speaker").language.unique().map(list).to_dict() == {
        "asvp_esd/1": ["en"], "asvp_esd/2": ["und"], "asvp_esd/7": ["zh"], "asvp_esd/bonus_150": ["und"]}
    assert set(manifest.sample_rate) == {16000}
    # per actor: codes 11, 13 always non-speech (4) + 11 codes x (i=0 non-speech, i=1 speech)
    # = 15 non-speech + 11 speech; x2 actors, + actor_ (speech) + 2 baby files (non-speech)
    assert manifest.vocal_channel.value_counts().to_dict() == {"non-speech": 32, "speech": 23}
    assert (manifest.age_group == "baby").sum() == 2
    by_path = manifest.set_index("path")
    # folder/name actor mismatch: the folder wins, the name's actor is kept
    row = by_path.loc[f"{A1}/03-02-05-01-01-41-02-03-02.wav"]
    assert (row.speaker, row.name_actor) == ("asvp_esd/1", "41")
    # pleasure (10) at normal intensity (01): happiness weight 0.5 x 0.5 = 0.25
    row = by_path.loc[f"{A1}/03-02-10-01-01-01-02-03-02.wav"]
    assert row[list(CLASSES)].tolist() == [0.25, 0, 0, 0, 0, 0, 0, 0]
    assert row.intensity == 0.25 and row.source_label == "10-01"
    # disappointment (12) at high intensity (02): sadness 0.5 x 1.0 = 0.5
    assert by_path.loc["Audio/actor_2/03-01-12-02-02-02-02-03.wav", "sadness"] == 0.5
    # boredom (01) at normal: other 1 x 0.5; neutral (02) at high: neutral 1, intensity 0
    assert by_path.loc[f"{A1}/03-02-01-01-01-01-02-03-02.wav", "other"] == 0.5
    row = by_path.loc[f"{A1}/03-01-02-02-02-01-02-03-02.wav"]
    assert (row.neutral, row.intensity) == (1.0, 0.0)
    assert {s.split("-")[0] for s in manifest.source_label} <= set(LABEL_MAP)


def test_asvp_options(corpus_factory):
    root = corpus_factory("asvp_esd")
    manifest, rejects = read_corpus("asvp_esd", root, language_codes="nkululeko", stray_intensity="high")
    assert len(manifest) == 56 and list(rejects.reason) == ["unknown_label"]
    langs = manifest.groupby("speaker").language.unique().map(list).to_dict()
    assert langs["asvp_esd/1"] == ["fr"] and langs["asvp_esd/7"] == ["en"]
    stray = manifest.set_index("path").loc[f"{A1}/03-01-04-04-90-01-02-03-02.wav"]
    assert stray.sadness == 1.0


def test_asvp_rejects(corpus_factory, tmp_path):
    root = tmp_path / "asvp"
    shutil.copytree(corpus_factory("asvp_esd"), root)
    n_files = sum(1 for _ in root.rglob("*.wav"))
    (root / A1 / "03-01-03-02-02-01-02-03-02.wav").write_bytes(b"RIFF\x00\x00junk")
    shutil.copy(root / A1 / "03-01-02-02-02-01-02-03-02.wav", root / A1 / "03-01-02.wav")
    shutil.copy(root / A1 / "03-01-02-02-02-01-02-03-02.wav", root / A1 / "03-05-02-02-02-01-02-03-02.wav")
    manifest, rejects = read_corpus("asvp_esd", root)
    got = dict(zip(rejects.path, rejects.reason))
    assert got[f"{A1}/03-01-03-02-02-01-02-03-02.wav"] == "unreadable_audio"
    assert got[f"{A1}/03-01-02.wav"] == "malformed_annotation"  # 3 fields
    assert got[f"{A1}/03-05-02-02-02-01-02-03-02.wav"] == "malformed_annotation"  # channel 05
    assert len(rejects) == 5 and len(manifest) == 54
    assert len(manifest) + len(rejects) == n_files + 2
