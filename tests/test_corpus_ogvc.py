import shutil

import numpy as np
import pytest

from ser_pipeline.corpora import read_corpus
from ser_pipeline.corpora.ogvc import LABEL_MAP
from ser_pipeline.emotions import CLASSES

LABEL = "OGVC/Natural/label/emotion_label.txt"


def _hard_counts(manifest):
    hard = np.array(CLASSES)[manifest[list(CLASSES)].to_numpy().argmax(1)]
    return dict(zip(*np.unique(hard, return_counts=True)))


def test_ogvc_generated_layout(corpus_factory):
    root = corpus_factory("ogvc", per_class=2)
    manifest, rejects = read_corpus("ogvc", root)
    # acted: 2 speakers x 8 codes x 2 takes; natural: 2 speakers x 10 codes x 2 clips
    assert len(manifest) == 32 + 40
    assert rejects.empty
    assert sorted(manifest.speaker.unique()) == ["ogvc/FOY", "ogvc/MKT", "ogvc/S01", "ogvc/S02"]
    assert set(manifest.language) == {"ja"}
    assert manifest.official_split.isna().all()
    acted, natural = manifest[manifest.part == "acted"], manifest[manifest.part == "natural"]
    assert set(acted.sample_rate) == {48000} and set(acted.channels) == {1}
    assert set(natural.sample_rate) == {16000} and set(natural.channels) == {2}
    assert set(natural.n_raters) == {3} and acted.n_raters.isna().all()
    # acted intensity (c + i) % 4 is 0 for JOY/i0, SUR/i1, SAD/i0, ANT/i1 -> neutral (4 per speaker);
    # natural majority code wins; ACC/ANT/OTH -> other
    assert _hard_counts(manifest) == {
        "happiness": 2 + 4, "sadness": 2 + 4, "disgust": 4 + 4, "fear": 4 + 4, "surprise": 2 + 4,
        "anger": 4 + 4, "other": 6 + 12, "neutral": 8 + 4}
    by_path = manifest.set_index("path")
    # FOY, code JOY (c=0), take 2 (i=1): intensity 1 -> happiness 1/3
    joy = by_path.loc["OGVC/Acted/wav/F1/JOY/FOY0102JOY1.wav"]
    assert joy.happiness == pytest.approx(1 / 3) and joy.neutral == 0.0
    assert joy.intensity == pytest.approx(1 / 3) and joy.acted_intensity == 1 and joy.gender == "F"
    # DIS (c=5), take 2: intensity (5+1)%4 = 2 -> disgust 2/3
    assert by_path.loc["OGVC/Acted/wav/F1/DIS/FOY0602DIS2.wav"].disgust == pytest.approx(2 / 3)
    # ANT intensity 0 -> "no perceived emotion" -> neutral 1, intensity 0
    ant0 = by_path.loc["OGVC/Acted/wav/M1/ANT/MKT0802ANT0.wav"]
    assert (ant0.neutral, ant0.other, ant0.intensity) == (1.0, 0.0, 0.0)
    # natural S01_0001 is JOY with votes JOY JOY ACC: happiness (1+1+0)/3, other (0+0+1)/3
    nat = by_path.loc["OGVC/Natural/wav/S01/S01_0001.wav"]
    assert nat.happiness == pytest.approx(2 / 3) and nat.other == pytest.approx(1 / 3)
    assert nat.intensity == pytest.approx(1.0) and nat.source_label == "JOY JOY ACC"
    codes = {c.rstrip("0123") for s in manifest.source_label for c in s.split()}
    assert codes == set(LABEL_MAP)  # every code of the synth corpus is in the map, and all are used


def test_ogvc_rejects(corpus_factory, tmp_path):
    root = tmp_path / "ogvc"
    shutil.copytree(corpus_factory("ogvc", per_class=2), root)
    nat = root / "OGVC" / "Natural" / "wav" / "S02"
    (nat / "S02_0003.wav").unlink()  # listed but missing
    (nat / "S02_0004.wav").write_bytes(b"\xff\xfe not audio")  # unreadable
    shutil.copy(nat / "S02_0005.wav", nat / "S02_9999.wav")  # unlisted
    acted = root / "OGVC" / "Acted" / "wav" / "F1" / "JOY"
    shutil.copy(acted / "FOY0101JOY0.wav", acted / "FOY0101XYZ2.wav")  # unknown acted code
    shutil.copy(acted / "FOY0101JOY0.wav", acted / "FOY0101JOY7.wav")  # intensity out of range
    label = root / LABEL
    # clip n (0-based) of a speaker has code NATURAL_CODES[n // 2]: S02_0006 is FEA, S02_0008 SUR
    text = label.read_text(encoding="utf-8")
    text = text.replace("S02_0006\tFEA\tFEA\tFEA", "S02_0006\tXYZ\tFEA\tFEA")  # unknown code
    text = text.replace("S02_0008\tSUR\tSUR\tSUR", "S02_0008\t12.5")  # no code at all
    label.write_bytes(text.encode("utf-8") + "S01_0002\tJOY\tSAD2\n\x97\xff bad bytes\n".encode("latin-1"))
    manifest, rejects = read_corpus("ogvc", root)
    reasons = dict(zip(rejects.path, rejects.reason))
    assert reasons["S02_0003"] == "audio_missing"  # the path as the label line lists it
    assert reasons["OGVC/Natural/wav/S02/S02_0004.wav"] == "unreadable_audio"
    assert reasons["OGVC/Natural/wav/S02/S02_9999.wav"] == "label_missing"
    assert reasons["OGVC/Acted/wav/F1/JOY/FOY0101XYZ2.wav"] == "unknown_label"
    assert reasons["OGVC/Acted/wav/F1/JOY/FOY0101JOY7.wav"] == "malformed_annotation"
    assert reasons["OGVC/Natural/wav/S02/S02_0006.wav"] == "unknown_label"
    assert reasons["OGVC/Natural/wav/S02/S02_0008.wav"] == "malformed_annotation"
    # the appended duplicate line of S01_0002 hits an id already taken; the latin-1 line has no audio
    assert reasons["OGVC/Natural/wav/S01/S01_0002.wav"] == "duplicate_id"
    assert sum(r == "audio_missing" for r in rejects.reason) == 2
    # every file on disk is a row or a reject; extra rejects: 2 listed-but-missing, 1 duplicate line
    n_files = 72 - 1 + 1 + 2
    assert len(manifest) == 72 - 4  # S02_0003, _0004, _0006, _0008
    assert len(manifest) + len(rejects) == n_files + 2 + 1
