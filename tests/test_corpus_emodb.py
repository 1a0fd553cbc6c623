import shutil

import numpy as np
import pytest

from ser_pipeline.corpora import CorpusNotFoundError, read_corpus
from ser_pipeline.emotions import CLASSES


def test_emodb_generated_layout(corpus_factory):
    root = corpus_factory("emodb", speakers=2, per_class=2)
    manifest, rejects = read_corpus("emodb", root)
    assert len(manifest) == 2 * 7 * 2
    assert rejects.empty
    assert sorted(manifest.speaker.unique()) == ["emodb/03", "emodb/08"]
    assert set(manifest.language) == {"de"}
    assert set(manifest.sample_rate) == {16000}
    hard = manifest[list(CLASSES)].to_numpy().argmax(1)
    counts = np.bincount(hard, minlength=8)
    # L (boredom) -> sadness, so sadness has two letters' worth
    assert counts[CLASSES.index("sadness")] == 2 * 2 * 2
    assert counts[CLASSES.index("anger")] == 2 * 2
    assert counts[CLASSES.index("surprise")] == 0
    row = manifest.set_index("path").loc["wav/03a01Aa.wav"]
    assert row.fear == 1.0 and row.anger == 0.0  # A = Angst = fear
    assert row.intensity == 1.0
    assert manifest.recognition_pct.notna().all()


def test_emodb_boredom_drop_and_broken_file(corpus_factory, tmp_path):
    root = tmp_path / "emodb"
    shutil.copytree(corpus_factory("emodb", speakers=2, per_class=2), root)
    (root / "wav" / "03a01Wa.wav").write_bytes(b"RIFF\x00\x00garbage")
    (root / "wav" / "03zzzQa.wav").write_bytes(b"")
    manifest, rejects = read_corpus("emodb", root, boredom="drop")
    reasons = dict(zip(rejects.path, rejects.reason))
    assert reasons["wav/03a01Wa.wav"] == "unreadable_audio"
    assert reasons["wav/03zzzQa.wav"] == "malformed_annotation"
    assert sum(r == "unknown_label" for r in rejects.reason) == 2 * 2  # L files dropped
    assert len(manifest) + len(rejects) == 2 * 7 * 2 + 1


def test_missing_root_is_clear(tmp_path):
    with pytest.raises(CorpusNotFoundError, match="emodb: corpus folder not found"):
        read_corpus("emodb", tmp_path / "nope")
