import shutil

import numpy as np

from ser_pipeline.corpora import read_corpus
from ser_pipeline.corpora.jl_corpus import LABEL_MAP
from ser_pipeline.emotions import CLASSES

DATA = "Raw JL corpus (unchecked and unannotated)/JL(wav+txt)"


def test_jl_generated_layout(corpus_factory):
    root = corpus_factory("jl_corpus")  # default: 2 speakers, per_class 2
    manifest, rejects = read_corpus("jl_corpus", root)
    assert len(manifest) == 2 * 10 * 2
    assert rejects.empty
    counts = np.bincount(manifest[list(CLASSES)].to_numpy().argmax(1), minlength=8)
    # happiness: happy, excited, encouraging; sadness: sad, apologetic; fear: anxious, concerned
    assert counts.tolist() == [12, 8, 0, 8, 0, 4, 4, 4]
    assert sorted(manifest.speaker.unique()) == ["jl_corpus/female1", "jl_corpus/male1"]
    assert dict(manifest.groupby("speaker").gender.first()) == {"jl_corpus/female1": "F", "jl_corpus/male1": "M"}
    assert set(manifest.language) == {"en"}
    assert set(manifest.sample_rate) == {44100}
    assert set(manifest.source_label) <= set(LABEL_MAP)
    by_path = manifest.set_index("path")
    row = by_path.loc[f"{DATA}/male1_concerned_1a_2.wav"]
    # concerned -> fear 0.5, nothing else; intensity 0.5
    assert row[list(CLASSES)].tolist() == [0, 0, 0, 0.5, 0, 0, 0, 0]
    assert row.intensity == 0.5
    row = by_path.loc[f"{DATA}/female1_encouraging_1a_1.wav"]
    assert (row.happiness, row.intensity) == (0.5, 0.5)
    assert by_path.loc[f"{DATA}/female1_assertive_1a_1.wav", "other"] == 1.0
    assert by_path.loc[f"{DATA}/female1_apologetic_1a_1.wav", "sadness"] == 0.5


def test_jl_rejects(corpus_factory, tmp_path):
    root = tmp_path / "jl"
    shutil.copytree(corpus_factory("jl_corpus"), root)
    data = root / DATA
    (data / "female1_angry_1a_1.wav").write_bytes(b"")
    shutil.copy(data / "male1_sad_1a_1.wav", data / "male1_pensive_1a_1.wav")
    shutil.copy(data / "male1_sad_1a_1.wav", data / "male1 sad 1a.wav")
    manifest, rejects = read_corpus("jl_corpus", root)
    assert dict(zip(rejects.path, rejects.reason)) == {
        f"{DATA}/female1_angry_1a_1.wav": "unreadable_audio",
        f"{DATA}/male1_pensive_1a_1.wav": "unknown_label",
        f"{DATA}/male1 sad 1a.wav": "malformed_annotation",
    }
    assert len(manifest) + len(rejects) == 40 + 2
