import shutil

import numpy as np

from ser_pipeline.corpora import read_corpus
from ser_pipeline.corpora.savee import LABEL_MAP
from ser_pipeline.emotions import CLASSES


def _hard_counts(manifest):
    return np.bincount(manifest[list(CLASSES)].to_numpy().argmax(1), minlength=8)


def test_savee_generated_layout(corpus_factory):
    root = corpus_factory("savee")  # default: 2 speakers, per_class 2
    manifest, rejects = read_corpus("savee", root)
    # 2 speakers x (6 emotions x 2 + neutral 2 x 2) = 2 x 16
    assert len(manifest) == 32
    assert rejects.empty
    counts = _hard_counts(manifest)
    assert counts.tolist() == [4, 4, 4, 4, 4, 4, 0, 8]  # hap sad dis fea sur ang oth neu
    assert sorted(manifest.speaker.unique()) == ["savee/DC", "savee/JE"]
    assert set(manifest.gender) == {"M"}
    assert set(manifest.language) == {"en"}
    assert set(manifest.sample_rate) == {44100}
    assert manifest.official_split.isna().all()
    row = manifest.set_index("path").loc["AudioData/JE/su02.wav"]
    assert row.surprise == 1.0 and row.sadness == 0.0 and row.source_label == "su"
    row = manifest.set_index("path").loc["AudioData/DC/sa01.wav"]
    assert row.sadness == 1.0 and row.intensity == 1.0
    # every code seen is in the label map
    assert set(manifest.source_label) <= set(LABEL_MAP)


def test_savee_flat_kaggle_copy_and_rejects(corpus_factory, tmp_path):
    src = corpus_factory("savee") / "AudioData"
    root = tmp_path / "savee"
    root.mkdir()
    for spk_dir in sorted(p for p in src.iterdir() if p.is_dir()):
        for wav in spk_dir.glob("*.wav"):
            shutil.copy(wav, root / f"{spk_dir.name}_{wav.name}")
    (root / "DC_a01.wav").write_bytes(b"RIFF\x00\x00garbage")
    (root / "DC_x01.wav").write_bytes(b"RIFF")
    (root / "XX_a01.wav").write_bytes(b"RIFF")
    manifest, rejects = read_corpus("savee", root)
    reasons = dict(zip(rejects.path, rejects.reason))
    assert reasons == {"DC_a01.wav": "unreadable_audio", "DC_x01.wav": "malformed_annotation",
                       "XX_a01.wav": "malformed_annotation"}
    assert len(manifest) + len(rejects) == 32 + 2
    assert manifest.set_index("path").loc["JE_n04.wav", "neutral"] == 1.0
