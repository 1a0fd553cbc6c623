"""TESS, the Toronto Emotional Speech Set (Canadian English; train).

Two actresses, OAF (older, 64) and YAF (younger, 26), say 200 target words in the carrier phrase
"Say the word _" in 7 emotions: 2,800 files. Dupuis & Pichora-Fuller, University of Toronto
(Dataverse doi:10.5683/SP2/E8H2MF). Licence unconfirmed.

Layouts as distributed::

    tess/                                   Dataverse: flat files
      OAF_back_angry.wav ... YAF_youth_sad.wav

    tess/                                   Kaggle: speaker x emotion folders
      OAF_angry/OAF_back_angry.wav ...
      YAF_pleasant_surprised/YAF_back_ps.wav ...

Both are read: only the file name matters.

File name ``OAF_back_ps.wav`` -> speaker "OAF", word "back", emotion "ps" (pleasant surprise):

    ======  ========  ==================================================
    field   name      values
    ======  ========  ==================================================
    first   speaker   OAF YAF (Kaggle typo ``OA`` read as OAF)
    middle  word      one of 200 target words
    last    emotion   angry disgust fear happy neutral ps sad
    ======  ========  ==================================================

Audio: 24,414 Hz, except ``OAF_food_fear.wav`` at 96 kHz; files are probed, never assumed.

Gotchas: parse the emotion as the **last** ``_`` field; some Kaggle copies hold the whole set
twice, so a second file with a name already read is rejected as ``duplicate_id`` (the first in
sorted path order wins). ``ps`` -> surprise 1 + happiness 0.5 (docs/labels.md).
Assumptions (unconfirmed): ``OA_`` is OAF (the only "O" speaker); channels are probed.
"""

from __future__ import annotations

import re
from pathlib import Path

from ser_pipeline.corpora.base import (
    CorpusSpec, CorpusTables, Reason, ScanSettings, TableBuilder, lookup_label, require_root, walk_audio,
)
from ser_pipeline.emotions import COMMON_WORDS, score_vector

LABEL_MAP: dict[str, dict[str, float]] = {
    "angry": COMMON_WORDS["angry"],
    "disgust": COMMON_WORDS["disgust"],
    "fear": COMMON_WORDS["fear"],
    "happy": COMMON_WORDS["happy"],
    "neutral": COMMON_WORDS["neutral"],
    "sad": COMMON_WORDS["sad"],
    "ps": {"surprise": 1.0, "happiness": 0.5},  # pleasant surprise
}

#: speaker prefix -> canonical id (``OA`` is a known typo in some Kaggle copies)
SPEAKER_ALIASES = {"OAF": "OAF", "YAF": "YAF", "OA": "OAF"}
AGE = {"OAF": 64, "YAF": 26}

SPEC = CorpusSpec(
    name="tess",
    title="TESS",
    role="train",
    languages=("en",),
    layout="<OAF|YAF>_<word>_<emotion>.wav, flat (Dataverse) or in <spk>_<emotion>/ folders (Kaggle)",
    soft_label_source="acted emotion token (last '_' field of the name); ps -> surprise 1 + happiness 0.5",
    label_map=LABEL_MAP,
    sample_rates_hz=(24414, 96000),
    assumptions="OA_ prefix = OAF; a repeated file name (duplicated copy of the set) is rejected as "
                "duplicate_id, first in sorted path order kept",
    code_version="1",
)

# "OAF_back_ps" -> ("OAF", "back", "ps"); the word never contains "_" but parse from the right
_NAME = re.compile(r"^([A-Za-z]+)_(.+)_([A-Za-z]+)$")


def read(root: Path, *, scan: ScanSettings | None = None) -> CorpusTables:
    """Read TESS (flat Dataverse files or Kaggle folders) from ``root``."""
    root = require_root(root, SPEC.name)
    b = TableBuilder(SPEC, root, scan)
    audio = walk_audio(root)
    seen: dict[str, str] = {}
    for path, m in b.named_files(audio, _NAME, "<speaker>_<word>_<emotion>.wav"):
        prefix, _word, emo = m.groups()
        spk = SPEAKER_ALIASES.get(prefix.upper())
        if spk is None:
            b.reject(path, Reason.MALFORMED, f"unknown speaker prefix {prefix!r} in {path.name}")
            continue
        row = lookup_label(LABEL_MAP, emo)
        if row is None:
            b.reject(path, Reason.LABEL_UNKNOWN, f"emotion token {emo!r} in {path.name}")
            continue
        name_key = path.name.lower()
        if name_key in seen:
            b.reject(path, Reason.DUPLICATE_ID, f"{path.name} already read from {seen[name_key]}")
            continue
        seen[name_key] = b.rel(path)
        b.add(path, score_vector(row), speaker=spk, gender="F", language="en", source_label=emo)
    b.reject_unclaimed(audio)
    return b.finish()
