"""SAVEE, the Surrey Audio-Visual Expressed Emotion database (British English; train).

Four male speakers (DC, JE, JK, KL) read TIMIT sentences in 7 emotions: 15 sentences per
emotion and 30 neutral per speaker, 480 files, 44.1 kHz. Haq & Jackson 2009/2010. Access by
registration at the University of Surrey ("restricted"); licence unconfirmed.

Layout as distributed (``AudioData/Info.txt`` describes it)::

    savee/
      AudioData/
        Info.txt
        DC/a01.wav ... su15.wav      120 files per speaker, 44.1 kHz
        JE/  JK/  KL/

The Kaggle copy flattens this to ``<spk>_<e><nn>.wav`` (e.g. ``JE_n23.wav``); both are read.

File name ``AudioData/DC/sa03.wav`` -> speaker "DC", emotion "sa" (sadness), sentence "03";
``JE_su12.wav`` -> speaker "JE", emotion "su" (surprise), sentence "12":

    ======  ========  =====================================================
    part    field     values
    ======  ========  =====================================================
    folder  speaker   DC JE JK KL (original layout) or the ``<spk>_`` prefix
    letters emotion   a d f h n sa su (two-letter codes matched first)
    digits  sentence  01-15 (neutral 01-30)
    ======  ========  =====================================================

Gotcha: ``sa``/``su`` must be matched before the single letters. All speakers are male.
Assumptions (unconfirmed in corpora.md): channels are probed, not assumed; any other
``.wav`` below the root whose name does not parse is rejected as malformed.
"""

from __future__ import annotations

import re
from pathlib import Path

from ser_pipeline.corpora.base import (
    CorpusSpec, CorpusTables, Reason, ScanSettings, TableBuilder, require_root, walk_audio,
)
from ser_pipeline.emotions import score_vector

LABEL_MAP: dict[str, dict[str, float]] = {
    "a": {"anger": 1.0},
    "d": {"disgust": 1.0},
    "f": {"fear": 1.0},
    "h": {"happiness": 1.0},
    "n": {"neutral": 1.0},
    "sa": {"sadness": 1.0},
    "su": {"surprise": 1.0},
}

SPEAKERS = ("DC", "JE", "JK", "KL")

SPEC = CorpusSpec(
    name="savee",
    title="SAVEE",
    role="train",
    languages=("en",),
    layout="AudioData/<DC|JE|JK|KL>/<e><nn>.wav (original) or <spk>_<e><nn>.wav (Kaggle flat copy)",
    soft_label_source="acted emotion prefix of the file name (one-hot)",
    label_map=LABEL_MAP,
    sample_rates_hz=(44100,),
    assumptions="all four speakers male (corpus docs); speaker from the folder, else from the "
                "<spk>_ prefix; names that do not parse are rejected as malformed",
    code_version="1",
)

# "sa03" -> ("sa", "03"); alternation order puts the two-letter codes first
_STEM = re.compile(r"^(sa|su|a|d|f|h|n)(\d{1,2})$")
# "JE_su12" -> ("JE", "su12")
_FLAT = re.compile(r"^([A-Z]{2})_(.+)$")


def _parse(path: Path) -> tuple[str, str, str] | None:
    """(speaker, emotion code, sentence) from either layout, or None."""
    stem = path.stem
    flat = _FLAT.match(stem)
    if flat:
        spk, stem = flat.groups()
    else:
        spk = path.parent.name
    m = _STEM.match(stem)
    if not m or spk not in SPEAKERS:
        return None
    return spk, m.group(1), m.group(2)


def read(root: Path, *, scan: ScanSettings | None = None) -> CorpusTables:
    """Read SAVEE (original ``AudioData/`` tree or the flat Kaggle copy) from ``root``."""
    root = require_root(root, SPEC.name)
    b = TableBuilder(SPEC, root, scan)
    audio = walk_audio(root)
    for path in audio:
        parsed = _parse(path)
        if parsed is None:
            b.reject(path, Reason.MALFORMED,
                     f"{b.rel(path)} is neither <spk>/<e><nn>.wav nor <spk>_<e><nn>.wav")
            continue
        spk, code, _sentence = parsed
        b.add(path, score_vector(LABEL_MAP[code]), speaker=spk, gender="M", language="en",
              source_label=code)
    b.reject_unclaimed(audio)
    return b.finish()
