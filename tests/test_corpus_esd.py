import shutil

import numpy as np

from ser_pipeline.corpora import read_corpus
from ser_pipeline.corpora.esd import decode_transcript
from ser_pipeline.emotions import CLASSES
from ser_pipeline.synth.layouts.esd import write_layout

ESD = "Emotion Speech Dataset"


def test_esd_official_layout(corpus_factory):
    root = corpus_factory("esd")  # default: speakers 0001 (zh) + 0011 (en), per_class 2
    manifest, rejects = read_corpus("esd", root)
    assert len(manifest) == 2 * 5 * 2
    assert rejects.empty
    counts = np.bincount(manifest[list(CLASSES)].to_numpy().argmax(1), minlength=8)
    assert counts.tolist() == [4, 4, 0, 0, 4, 4, 0, 4]
    assert sorted(manifest.speaker.unique()) == ["esd/0001", "esd/0011"]
    assert manifest.groupby("speaker").language.unique().map(list).to_dict() == {
        "esd/0001": ["zh"], "esd/0011": ["en"]}
    assert manifest.groupby("speaker").gender.first().to_dict() == {"esd/0001": "F", "esd/0011": "M"}
    assert manifest.official_split.value_counts().to_dict() == {"train": 10, "test": 10}
    assert set(manifest.sample_rate) == {16000}
    by_path = manifest.set_index("path")
    row = by_path.loc[f"{ESD}/0001/Angry/test/0001_000352.wav"]
    assert (row.anger, row.intensity, row.source_label, row.official_split) == (1.0, 1.0, "Angry", "test")
    # gb2312 transcript with Chinese text decoded; utf-16 transcript with blank lines
    assert row.text == "他仅凭腰部的力量，在泳道上下翻腾，"
    assert by_path.loc[f"{ESD}/0011/Happy/train/0011_000701.wav", "text"] == "Author of the danger trail, Philip Steels, etc."
    assert manifest.text.notna().all()


def test_esd_flat_layout(tmp_path):
    write_layout(tmp_path, seed=0, speakers=4, per_class=2, splits=False)
    manifest, rejects = read_corpus("esd", tmp_path)
    assert len(manifest) == 4 * 5 * 2 and rejects.empty
    assert manifest.official_split.isna().all()
    by_spk = manifest.groupby("speaker")
    assert by_spk.gender.first().isna().to_dict() == {"esd/0001": False, "esd/0002": False,
                                                       "esd/0011": False, "esd/0012": True}
    # latin-1 (0012) and utf-8 (0002) transcripts
    assert manifest.set_index("path").loc["0012/Angry/0012_000352.wav", "text"] == "The café was closed that night."
    assert manifest.set_index("path").loc["0002/Neutral/0002_000001.wav", "text"] == "打远一看，它们的确很是美丽，"


def test_esd_rejects(corpus_factory, tmp_path):
    root = tmp_path / "esd"
    shutil.copytree(corpus_factory("esd"), root)
    spk = root / ESD / "0001"
    (spk / "0001.txt").write_bytes((spk / "0001.txt").read_bytes() + "这不是一行\n".encode("gb2312"))
    (spk / "Sad" / "train" / "0001_001051.wav").unlink()
    (spk / "Happy" / "test" / "0001_000702.wav").write_bytes(b"RIFF\x00\x00junk")
    (spk / "Calm" / "train").mkdir(parents=True)
    shutil.copy(spk / "Neutral" / "train" / "0001_000001.wav", spk / "Calm" / "train" / "0001_000001.wav")
    manifest, rejects = read_corpus("esd", root)
    assert sorted(zip(rejects.path, rejects.reason)) == [
        (f"{ESD}/0001/0001.txt", "malformed_annotation"),
        (f"{ESD}/0001/Calm/train/0001_000001.wav", "unknown_label"),
        (f"{ESD}/0001/Happy/test/0001_000702.wav", "unreadable_audio"),
        (f"{ESD}/0001/Sad/0001_001051.wav", "audio_missing"),
    ]
    # 20 files - 1 deleted + 1 added = 20 audio files: 18 rows + 2 audio rejects
    assert len(manifest) == 18
    assert len(manifest) + len(rejects[rejects.reason.isin(["unknown_label", "unreadable_audio"])]) == 20


def test_esd_transcript_encodings():
    line = "0001_000001\t打远一看\t中立\n"
    for enc in ("gb2312", "utf-16", "utf-8"):
        assert decode_transcript(line.encode(enc), mandarin=True) == line
    assert decode_transcript("caf\xe9\n".encode("latin-1"), mandarin=False) == "caf\xe9\n"
