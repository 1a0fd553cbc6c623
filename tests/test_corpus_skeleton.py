"""RAVDESS, CREMA-D and the user manifest on their generated layouts."""

import shutil

import numpy as np
import pandas as pd
import pytest

from ser_pipeline.corpora import read_corpus
from ser_pipeline.emotions import CLASSES

I = {c: i for i, c in enumerate(CLASSES)}


def hard_counts(m):
    return dict(zip(CLASSES, np.bincount(m[list(CLASSES)].to_numpy().argmax(1), minlength=8).tolist(), strict=True))


@pytest.mark.slow  # generates 82 files at 48 kHz
def test_ravdess_speech_and_song(corpus_factory):
    root = corpus_factory("ravdess", speakers=2, per_class=2)
    m, r = read_corpus("ravdess", root)
    # per actor: speech 15 (emotion, intensity) pairs × 2 combos = 30; song 11 pairs × 1 combo = 11
    assert len(m) == 2 * (30 + 11) and r.empty
    assert set(m.modality) == {"speech", "song"}
    assert set(m.sample_rate) == {48000}
    assert dict(zip(m.speaker, m.gender)) == {"ravdess/01": "M", "ravdess/02": "F"}
    counts = hard_counts(m)
    # neutral: speech neutral 2 + calm 4, song neutral 1 + calm 2 = 9 per actor
    assert counts["neutral"] == 2 * 9 and counts["surprise"] == 2 * 4 and counts["other"] == 0
    row = m.set_index("path").loc["Audio_Speech_Actors_01-24/Actor_01/03-01-05-01-01-01-01.wav"]
    assert row.anger == 0.5 and row.intensity == 0.5  # normal intensity
    row = m.set_index("path").loc["Audio_Speech_Actors_01-24/Actor_01/03-01-05-02-01-01-01.wav"]
    assert row.anger == 1.0  # strong


def test_crema_d_voice_votes_and_silent_clip(corpus_factory):
    root = corpus_factory("crema_d", speakers=2, per_class=2)
    m, r = read_corpus("crema_d", root)
    assert len(m) == 2 * 6 * 2
    assert r.reason.tolist() == ["zero_length"] and r.path.tolist() == ["AudioWAV/1076_MTI_SAD_XX.wav"]
    votes = pd.read_csv(root / "processedResults" / "tabulatedVotes.csv", dtype=str)
    voice = votes[votes.iloc[:, 0].str.startswith("1")].set_index("fileName").loc["1001_IEO_ANG_LO"]
    n = int(voice.numResponses)
    row = m.set_index("utterance_id").loc["crema_d/AudioWAV/1001_IEO_ANG_LO"]
    # raw score = vote count / numResponses, e.g. A 7 of 10 -> anger 0.7
    assert row.anger == pytest.approx(int(voice.A) / n)
    assert row.neutral == pytest.approx(int(voice.N) / n)
    assert row.n_raters == n
    assert set(m.gender) <= {"F", "M"}


def test_crema_d_acted_label_without_votes(corpus_factory, tmp_path):
    root = tmp_path / "crema_d"
    shutil.copytree(corpus_factory("crema_d", speakers=2, per_class=2), root)
    shutil.rmtree(root / "processedResults")
    m, _ = read_corpus("crema_d", root)
    assert m.set_index("utterance_id").loc["crema_d/AudioWAV/1001_IEO_ANG_LO"].anger == 1.0
    assert m.n_raters.isna().all()


def test_manifest_corpus_and_bad_paths(corpus_factory, tmp_path, caplog):
    root = tmp_path / "mine"
    shutil.copytree(corpus_factory("manifest", speakers=2, per_class=1), root)
    df = pd.read_csv(root / "manifest.csv", dtype=str)
    (tmp_path / "outside.wav").write_bytes((root / df.path[0]).read_bytes())
    (root / "audio" / "link.wav").symlink_to(tmp_path / "outside.wav")
    extra = pd.DataFrame({"path": ["../outside.wav", str(tmp_path / "outside.wav"), "audio/link.wav",
                                   "audio/none.wav", df.path[0].replace(".wav", "_x.wav")],
                          "label": ["happy", "happy", "happy", "happy", "bliss"],
                          "speaker": "x", "language": "en", "gender": "", "mood": "?"})
    shutil.copy(root / df.path[0], root / df.path[0].replace(".wav", "_x.wav"))
    pd.concat([df, extra]).to_csv(root / "manifest.csv", index=False)
    m, r = read_corpus("manifest", root)
    assert len(m) == 2 * 8
    assert sorted(r.reason) == ["audio_missing", "outside_root", "outside_root", "outside_root", "unknown_label"]
    assert "ignoring unknown column(s) ['mood']" in caplog.text
    assert set(m.sample_rate) == {16000}  # i = 0 only
    (root / "manifest.csv").write_text("path,label\nx.wav,happy\n")
    with pytest.raises(ValueError, match=r"missing required column\(s\) \['speaker', 'language'\]"):
        read_corpus("manifest", root)
