import shutil

import numpy as np

from ser_pipeline.corpora import read_corpus
from ser_pipeline.emotions import CLASSES


def test_tess_generated_layout(corpus_factory):
    root = corpus_factory("tess")  # default: 2 speakers, per_class 2
    manifest, rejects = read_corpus("tess", root)
    assert len(manifest) == 2 * 7 * 2
    assert rejects.empty
    counts = np.bincount(manifest[list(CLASSES)].to_numpy().argmax(1), minlength=8)
    # ps -> surprise 1 + happiness 0.5: hard label surprise, happiness stays 4
    assert counts.tolist() == [4, 4, 4, 4, 4, 4, 0, 4]
    assert sorted(manifest.speaker.unique()) == ["tess/OAF", "tess/YAF"]
    assert set(manifest.language) == {"en"} and set(manifest.gender) == {"F"}
    by_path = manifest.set_index("path")
    assert by_path.loc["OAF_food_fear.wav", "sample_rate"] == 96000
    assert set(manifest.sample_rate) == {24414, 96000}
    assert (manifest.sample_rate == 24414).sum() == 27
    ps = by_path.loc["YAF_back_ps.wav"]
    # raw scores: surprise 1, happiness 0.5; intensity = 1 + 0.5 = 1.5
    assert (ps.surprise, ps.happiness, ps.neutral) == (1.0, 0.5, 0.0)
    assert ps.intensity == 1.5
    assert ps.source_label == "ps"


def test_tess_kaggle_folders_duplicates_and_rejects(corpus_factory, tmp_path):
    src = corpus_factory("tess")
    root = tmp_path / "tess"
    for wav in sorted(src.glob("*.wav")):
        spk, _word, emo = wav.stem.split("_")
        folder = root / f"{spk}_{'pleasant_surprised' if emo == 'ps' else emo}"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(wav, folder / wav.name)
    # a duplicated copy of one folder, the OA_ typo, a broken file, an unknown token
    shutil.copytree(root / "YAF_sad", root / "zz_copy" / "YAF_sad")
    shutil.copy(root / "OAF_neutral" / "OAF_back_neutral.wav", root / "OAF_neutral" / "OA_bite_neutral.wav")
    (root / "OAF_angry" / "OAF_back_angry.wav").write_bytes(b"RIFF\x00\x00junk")
    shutil.copy(root / "OAF_neutral" / "OAF_back_neutral.wav", root / "OAF_neutral" / "OAF_back_calm.wav")
    manifest, rejects = read_corpus("tess", root)
    reasons = rejects.groupby("reason").path.apply(sorted).to_dict()
    assert reasons == {
        "duplicate_id": ["zz_copy/YAF_sad/YAF_back_sad.wav", "zz_copy/YAF_sad/YAF_food_sad.wav"],
        "unknown_label": ["OAF_neutral/OAF_back_calm.wav"],
        "unreadable_audio": ["OAF_angry/OAF_back_angry.wav"],
    }
    assert manifest.set_index("path").loc["OAF_neutral/OA_bite_neutral.wav", "speaker"] == "tess/OAF"
    assert len(manifest) == 28 - 1 + 1  # one broken, one OA_ typo kept
    assert len(manifest) + len(rejects) == 28 + 2 + 1 + 1
