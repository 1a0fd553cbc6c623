"""CMU-MOSEI: .csd segments cut from full-video WAVs; intensities / 3; all-zero -> neutral."""

import shutil

import h5py
import numpy as np
import pytest

from ser_pipeline.corpora import read_corpus
from ser_pipeline.emotions import CLASSES


def test_cmu_mosei_generated_layout(corpus_factory):
    m, r = read_corpus("cmu_mosei", corpus_factory("cmu_mosei", speakers=3, per_class=1))
    assert len(m) == 3 * (6 + 1 + 1) and r.empty  # 6 emotions + all-zero + an overlapping copy, per video
    assert m.start_s.min() == 0.0  # the negative start was clamped
    assert m.speaker.nunique() == 3 and set(m.sample_rate) == {16000} and m.official_split.isna().all()
    hard = np.bincount(m[list(CLASSES)].to_numpy().argmax(1), minlength=8)
    assert hard[CLASSES.index("neutral")] == 3 and hard[CLASSES.index("other")] == 0
    assert (m.end_s - m.start_s - m.duration_s).abs().max() < 1e-9
    assert hard_counts(m) == {'happiness': 3, 'sadness': 6, 'disgust': 3, 'fear': 3, 'surprise': 3, 'anger': 3, 'neutral': 3}
    assert set(m.language) == {'en'}


def test_cmu_mosei_hand_computed_and_rejects(corpus_factory, tmp_path):
    root = tmp_path / "mosei"
    shutil.copytree(corpus_factory("cmu_mosei", speakers=3, per_class=1), root)
    wav = next((root / "Raw/Audio/Full/WAV_16000").glob("*.wav"))
    shutil.copy(wav, wav.with_name("handmade.wav"))
    shutil.copy(wav, wav.with_name("unlabelled.wav"))
    with h5py.File(root / "CMU_MOSEI_Labels.csd", "a") as f:
        g = f["All Labels"]["data"].create_group("handmade")
        # [sentiment, happy, sad, anger, surprise, disgust, fear]
        g.create_dataset("features", data=np.array([[1.0, 1.5, 0, 3.0, 0, 0, 0],
                                                    [0.0, 0, 0, 0, 0, 0, 0],
                                                    [0.0, 0, 0.6, 0, 0, 0, 0]]))
        g.create_dataset("intervals", data=np.array([[-0.2, 1.0], [0.5, 1.5], [-1.0, -0.5]]))
        missing = f["All Labels"]["data"].create_group("no_audio")
        missing.create_dataset("features", data=np.zeros((1, 7)))
        missing.create_dataset("intervals", data=np.array([[0.0, 1.0]]))
    m, r = read_corpus("cmu_mosei", root)
    rows = m.set_index("utterance_id")
    a = rows.loc["cmu_mosei/Raw/Audio/Full/WAV_16000/handmade/0"]
    # happy 1.5 / 3 = 0.5, anger 3 / 3 = 1.0; intensity 1.5; start -0.2 clamped to 0
    assert a.happiness == 0.5 and a.anger == 1.0 and a.intensity == 1.5 and a.start_s == 0.0 and a.end_s == 1.0
    b = rows.loc["cmu_mosei/Raw/Audio/Full/WAV_16000/handmade/1"]
    assert b.neutral == 1.0 and b.intensity == 0.0  # all zero: no perceived emotion
    reasons = sorted(zip(r.path, r.reason))
    assert ("Raw/Audio/Full/WAV_16000/handmade.wav", "segment_out_of_range") in reasons  # [-1, -0.5]
    assert ("Raw/Audio/Full/WAV_16000/no_audio.wav", "audio_missing") in reasons
    assert ("Raw/Audio/Full/WAV_16000/unlabelled.wav", "label_missing") in reasons


def hard_counts(m):
    """Per-class counts of the hard label (argmax of the 8 raw scores); the generator is deterministic."""
    import numpy as np

    from ser_pipeline.emotions import CLASSES

    c = np.bincount(m[list(CLASSES)].to_numpy().argmax(1), minlength=8)
    return {CLASSES[i]: int(v) for i, v in enumerate(c) if v}
