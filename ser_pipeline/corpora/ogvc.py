"""OGVC, the Online Gaming Voice Chat Corpus with Emotional Label (Japanese; train).

Spontaneous voice chat of 13 students playing an MMORPG, plus an acted part by 4 speakers who
voice Plutchik's eight emotions at intensities 0-3. Arimoto et al. 2011/2012; NII-SRC (terms
unconfirmed). Source recordings are 2-channel (one player per channel); files are down-mixed on
load and their channel count recorded.

Layout of the acted part (nkululeko)::

    ogvc/
      Acted/wav/F1/<subdir>/FOY0101ANT0.wav ...    also F2, M1, M2

File name ``FOY0101ANT0`` -> gender "F", speaker initials "OY", text "0101", emotion "ANT"
(anticipation), intensity "0".

Soft label (labels.md): the emotion's weight × intensity / 3 (JOY happiness, FEA fear, SUR
surprise, SAD sadness, DIS disgust, ANG anger, ACC other, ANT other, NEU neutral, OTH other);
intensity 0 means no perceived emotion -> neutral 1.

Assumption for the natural part (corpora.md: layout and label format unconfirmed): any file
below the root whose name follows the acted pattern is read the same way; any other audio is
rejected as ``label_missing`` (so nothing is dropped silently) until the format is known.
"""

from __future__ import annotations

import re
from pathlib import Path

from ser_pipeline.corpora.base import CorpusSpec, CorpusTables, Reason, TableBuilder, require_root, walk_audio
from ser_pipeline.emotions import no_emotion_if_empty, score_vector

LABEL_MAP: dict[str, dict[str, float]] = {
    "JOY": {"happiness": 1.0}, "FEA": {"fear": 1.0}, "SUR": {"surprise": 1.0}, "SAD": {"sadness": 1.0},
    "DIS": {"disgust": 1.0}, "ANG": {"anger": 1.0}, "ACC": {"other": 1.0}, "ANT": {"other": 1.0},
    "NEU": {"neutral": 1.0}, "OTH": {"other": 1.0},
}

SPEC = CorpusSpec(
    name="ogvc", title="OGVC", role="train", languages=("ja",),
    layout="Acted/wav/<F1|F2|M1|M2>/<subdir>/<G><II><TTTT><EMO><n>.wav",
    soft_label_source="emotion code × intensity/3 in the file name; intensity 0 -> neutral 1",
    label_map=LABEL_MAP, sample_rates_hz=(),
    assumptions="natural part: files named like the acted part are read alike; other audio rejected (label_missing)",
)

# FOY0101ANT0 -> ("F", "OY", "0101", "ANT", "0")
_NAME = re.compile(r"^([FM])([A-Z]{2})(\d{4})([A-Z]{3})([0-3])$")


def read(root: Path) -> CorpusTables:
    """Read OGVC from ``root``."""
    root = require_root(root, SPEC.name)
    b = TableBuilder(SPEC, root)
    for path in walk_audio(root):
        m = _NAME.match(path.stem)
        if not m:
            b.reject(path, Reason.LABEL_MISSING, f"{path.name}: not an acted-part name (natural-part labels unsupported)")
            continue
        gender, initials, _text, code, level = m.groups()
        if code not in LABEL_MAP:
            b.reject(path, Reason.LABEL_UNKNOWN, f"emotion code {code!r}")
            continue
        scores = no_emotion_if_empty(score_vector(LABEL_MAP[code], int(level) / 3.0))
        b.add(path, scores, speaker=f"{gender}{initials}", gender=gender, language="ja", source_label=f"{code}{level}")
    return b.finish()
