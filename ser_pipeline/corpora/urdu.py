"""URDU: emotional utterances from Urdu talk shows on YouTube (Urdu; zero-shot evaluation set).

Latif et al. 2018; github siddiquelatif/URDU-Dataset, research use only. 400 files, 100 per
emotion folder, WAV PCM16 mono 44.1 kHz.

Layout as distributed::

    urdu/
      Angry/SM1_F1_A01.wav  Happy/  Neutral/  Sad/

File name ``SM1_F10_A010`` -> gender "M", speaker "SM1", file 10 of that speaker, emotion "A"
(angry) number 010. Numbers are not zero-padded (``F1``, ``F10``); the running number has 2 or 3
digits.

Assumption: the folder is the label; a name whose emotion letter disagrees is rejected.
"""

from __future__ import annotations

import re
from pathlib import Path

from ser_pipeline.corpora.base import CorpusSpec, CorpusTables, Reason, ScanSettings, TableBuilder, require_root, walk_audio
from ser_pipeline.emotions import score_vector

LABEL_MAP: dict[str, dict[str, float]] = {
    "Angry": {"anger": 1.0}, "Happy": {"happiness": 1.0}, "Neutral": {"neutral": 1.0}, "Sad": {"sadness": 1.0},
}
LETTER = {"Angry": "A", "Happy": "H", "Neutral": "N", "Sad": "S"}

SPEC = CorpusSpec(
    name="urdu", title="URDU", role="zero_shot", languages=("ur",),
    layout="{Angry,Happy,Neutral,Sad}/S<G><n>_F<n>_<E><nn>.wav",
    soft_label_source="emotion folder (one-hot)", label_map=LABEL_MAP, sample_rates_hz=(44100,),
    assumptions="folder is the label; the name's emotion letter must agree",
)

# SM1_F10_A010 -> ("M", "1", "10", "A", "010")
_NAME = re.compile(r"^S([MF])(\d+)_F(\d+)_([AHNS])(\d+)$")


def read(root: Path, *, scan: ScanSettings | None = None) -> CorpusTables:
    """Read URDU from ``root``."""
    root = require_root(root, SPEC.name)
    b = TableBuilder(SPEC, root, scan)
    for path in walk_audio(root):
        folder = path.parent.name
        if folder not in LABEL_MAP:
            b.reject(path, Reason.LABEL_MISSING, f"folder {folder!r} is not an emotion folder")
            continue
        m = _NAME.match(path.stem)
        if not m:
            b.reject(path, Reason.MALFORMED, f"file name {path.name!r} is not S<G><n>_F<n>_<E><nn>")
            continue
        gender, spk, _f, letter, _n = m.groups()
        if letter != LETTER[folder]:
            b.reject(path, Reason.MALFORMED, f"emotion letter {letter!r} disagrees with folder {folder!r}")
            continue
        b.add(path, score_vector(LABEL_MAP[folder]), speaker=f"S{gender}{spk}", gender=gender, language="ur",
              source_label=folder)
    return b.finish()
