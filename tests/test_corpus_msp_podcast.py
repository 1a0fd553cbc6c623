"""MSP-Podcast on its generated layout: worker votes, contempt -> disgust 0.5, X without votes rejected."""

import csv
import shutil

import pytest

from ser_pipeline.corpora import read_corpus


def test_msp_podcast_generated_layout(corpus_factory):
    m, r = read_corpus("msp_podcast", corpus_factory("msp_podcast", speakers=3, per_class=1))
    # 3 speakers × (9 codes + 2 X rows); the X row without votes of each speaker is rejected
    assert len(m) == 3 * 10 and r.reason.tolist() == ["no_agreement"] * 3
    assert sorted(m.speaker.unique()) == ["msp_podcast/100", "msp_podcast/101", "msp_podcast/unknown"]
    assert set(m.official_split) == {"Train", "Development", "Test1"} and (m.n_raters == 5).all()
    assert set(m.sample_rate) == {16000}
    assert hard_counts(m) == {'happiness': 4, 'sadness': 4, 'disgust': 6, 'fear': 3, 'surprise': 3, 'anger': 3, 'other': 4, 'neutral': 3}
    assert set(m.language) == {'en'}


def test_msp_podcast_hand_computed(corpus_factory, tmp_path):
    root = tmp_path / "msp"
    shutil.copytree(corpus_factory("msp_podcast", speakers=3, per_class=1), root)
    src = next((root / "Audios").glob("*.wav"))
    for name in ("MSP-PODCAST_9999_0001.wav", "MSP-PODCAST_9999_0002.wav"):
        shutil.copy(src, root / "Audios" / name)
    with (root / "Labels" / "labels_consensus.csv").open("a", newline="") as f:
        w = csv.writer(f)
        w.writerow(["MSP-PODCAST_9999_0001.wav", "C", "3", "3", "3", "7", "Male", "Train"])
        w.writerow(["MSP-PODCAST_9999_0002.wav", "A", "3", "3", "3", "7", "Male", "Train"])
        w.writerow(["MSP-PODCAST_9999_0003.wav", "N", "3", "3", "3", "7", "Male", "Train"])  # no audio
    with (root / "Labels" / "labels_detailed.csv").open("a", newline="") as f:
        w = csv.writer(f)
        for worker, primary in enumerate(["Angry", "Angry", "Contempt", "Other-annoyed"]):
            w.writerow(["MSP-PODCAST_9999_0002.wav", f"WORKER{worker}; {primary}; ; A:3; V:3; D:3;"])
    m, r = read_corpus("msp_podcast", root).manifest, read_corpus("msp_podcast", root).rejects
    rows = m.set_index("path")
    # no votes for _0001: EmoClass C (contempt) -> disgust 0.5, the rest 0
    c = rows.loc["Audios/MSP-PODCAST_9999_0001.wav"]
    assert c.disgust == 0.5 and c.intensity == 0.5 and c[["anger", "neutral", "other"]].sum() == 0
    # 4 workers: Angry, Angry, Contempt (disgust 0.5), Other-annoyed -> anger 2/4, disgust 0.5/4, other 1/4
    v = rows.loc["Audios/MSP-PODCAST_9999_0002.wav"]
    assert v.anger == pytest.approx(0.5) and v.disgust == pytest.approx(0.125) and v.other == pytest.approx(0.25)
    assert v.n_raters == 4 and v.speaker == "msp_podcast/7" and v.gender == "M"
    assert "Audios/MSP-PODCAST_9999_0003.wav" in set(r.loc[r.reason == "audio_missing", "path"])


def hard_counts(m):
    """Per-class counts of the hard label (argmax of the 8 raw scores); the generator is deterministic."""
    import numpy as np

    from ser_pipeline.emotions import CLASSES

    c = np.bincount(m[list(CLASSES)].to_numpy().argmax(1), minlength=8)
    return {CLASSES[i]: int(v) for i, v in enumerate(c) if v}
