"""AESDD, the Acted Emotional Speech Dynamic Database (Greek; zero-shot evaluation set).

Actors of the Aristotle University of Thessaloniki read 20 utterances in 5 emotions (v1.0, 2017;
more actors added later). 604 readable files, 44.1 kHz. Licence: CC BY 4.0 per a mirror
(unconfirmed).

Layout as distributed (``Acted Emotional Speech Dynamic Database.zip``)::

    aesdd/
      anger/a03 (3).wav        <emotion letter><utterance 01-20> (<speaker>)[a|b].wav
      disgust/ fear/ happiness/ sadness/

File name ``a06 (5)b.wav`` -> emotion "a" (anger), utterance "06", speaker "5", extra take "b".
Speakers are written ``(1)`` or ``(01)``; both mean speaker 1. Names contain spaces and
parentheses. ``sadness/s05 (3).wav`` is unreadable in the distribution (a reject).

Assumptions: the label is the emotion letter of the name; a name whose letter disagrees with its
folder is rejected (``malformed_annotation``); gender is not given (corpora.md: unconfirmed).
"""

from __future__ import annotations

import re
from pathlib import Path

from ser_pipeline.corpora.base import CorpusSpec, CorpusTables, Reason, ScanSettings, TableBuilder, require_root, walk_audio
from ser_pipeline.emotions import score_vector

LABEL_MAP: dict[str, dict[str, float]] = {
    "a": {"anger": 1.0}, "d": {"disgust": 1.0}, "f": {"fear": 1.0}, "h": {"happiness": 1.0}, "s": {"sadness": 1.0},
}
FOLDERS = {"anger": "a", "disgust": "d", "fear": "f", "happiness": "h", "sadness": "s"}

SPEC = CorpusSpec(
    name="aesdd", title="AESDD", role="zero_shot", languages=("el",),
    layout="<emotion folder>/<letter><utt> (<speaker>)[a|b].wav",
    soft_label_source="emotion letter of the file name (one-hot), checked against the folder",
    label_map=LABEL_MAP, sample_rates_hz=(44100,),
    assumptions="speaker numbers (1) and (01) are the same speaker; no gender; letter must match folder",
)

# "a06 (5)b" -> ("a", "06", "5", "b")
_NAME = re.compile(r"^([adfhs])(\d{2}) \((\d+)\)([ab]?)$")


def read(root: Path, *, scan: ScanSettings | None = None) -> CorpusTables:
    """Read AESDD from ``root``."""
    root = require_root(root, SPEC.name)
    b = TableBuilder(SPEC, root, scan)
    for path, m in b.named_files(walk_audio(root), _NAME, "<letter><utt> (<speaker>)[a|b]"):
        letter, _utt, spk, _take = m.groups()
        folder = FOLDERS.get(path.parent.name.lower())
        if folder is not None and folder != letter:
            b.reject(path, Reason.MALFORMED, f"letter {letter!r} disagrees with folder {path.parent.name!r}")
            continue
        b.add(path, score_vector(LABEL_MAP[letter]), speaker=str(int(spk)), language="el", source_label=letter)
    return b.finish()
