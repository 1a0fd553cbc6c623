"""VESUS, the Varied Emotion in Syntactically Uniform Speech corpus (English; train).

252 phrases read by 10 actors (5 M, 5 F) in 5 intended emotions; each utterance rated by 10 crowd
annotators (Amazon Mechanical Turk). Sager et al., Interspeech 2019. Request form; terms unconfirmed.

Layout (corpora.md [T], third-party loaders)::

    vesus/
      Audio/<File Path>                e.g. Audio/Actor01/Angry/Actor01_Angry_001.wav
      Tools/VESUS_Key.csv              File Path, Actor, Actor Dialog, ..., crowd ids, crowd intensities

The 2nd component of ``File Path`` is the intended emotion (Neutral, Angry, Happy, Sad, Fearful),
kept as ``source_label``. A key row (list strings in CSV cells)::

    File Path,Actor,Actor Dialog,Phrase,Type,Actor Confidence,Crowd Count,Crowd Emotion,Crowd Intensity
    Actor01/Angry/Actor01_Angry_001.wav,Actor01,kids are talking,1,neutral,8,10,"[1, 1, 1, 0, 1, 3, 1, 1, 0, 1]","[4, 3, 5, ...]"

Soft label (docs/labels.md): vote fractions of the crowd ids 0 neutral, 1 anger, 2 happiness,
3 sadness, 4 fear; ``n_raters`` = number of crowd labels.

Assumptions (column names unconfirmed): the crowd-id list is the column named ``Crowd Emotion``
if present, else the 8th column (1-based), as in the third-party loader; the actor is the 2nd
column; gender unknown.
"""

from __future__ import annotations

import ast
import csv
import io
from pathlib import Path

from ser_pipeline.corpora.base import (
    CorpusSpec, CorpusTables, Reason, ScanSettings, TableBuilder, read_text, require_root, walk_audio,
)
from ser_pipeline.emotions import vote_scores

LABEL_MAP: dict[str, dict[str, float]] = {
    "0": {"neutral": 1.0}, "1": {"anger": 1.0}, "2": {"happiness": 1.0}, "3": {"sadness": 1.0}, "4": {"fear": 1.0},
}
INTENDED = ("Neutral", "Angry", "Happy", "Sad", "Fearful")

SPEC = CorpusSpec(
    name="vesus", title="VESUS", role="train", languages=("en",),
    layout="Audio/<File Path> + Tools/VESUS_Key.csv (File Path, Actor, ..., crowd emotion ids list)",
    soft_label_source="crowd emotion ids (0 neutral, 1 anger, 2 happiness, 3 sadness, 4 fear) -> vote fractions",
    label_map=LABEL_MAP,
    assumptions="crowd ids in column 'Crowd Emotion' or else the 8th column; actor = 2nd column; no gender",
)


def read(root: Path, *, scan: ScanSettings | None = None) -> CorpusTables:
    """Read VESUS from ``root``."""
    root = require_root(root, SPEC.name)
    key = root / "Tools" / "VESUS_Key.csv"
    if not key.is_file():
        raise FileNotFoundError(f"vesus: {key} not found")
    b = TableBuilder(SPEC, root, scan)
    reader = csv.reader(io.StringIO(read_text(key)))
    header = next(reader, [])
    col = header.index("Crowd Emotion") if "Crowd Emotion" in header else 7
    for line_no, fields in enumerate(reader, start=2):
        if not fields or not fields[0].strip():
            continue
        rel = fields[0].strip()
        path = root / "Audio" / rel
        parts = Path(rel).parts
        intended = parts[1] if len(parts) > 1 else None
        try:
            ids = [str(int(x)) for x in ast.literal_eval(fields[col])]
        except (IndexError, ValueError, SyntaxError, TypeError) as exc:
            b.reject(path, Reason.MALFORMED, f"{key.name} line {line_no}: crowd labels {exc}")
            continue
        unknown = sorted(set(ids) - set(LABEL_MAP))
        if unknown or not ids:
            b.reject(path, Reason.LABEL_UNKNOWN if unknown else Reason.NO_AGREEMENT,
                     f"{key.name} line {line_no}: crowd ids {ids}")
            continue
        if not path.exists():
            b.reject(path, Reason.AUDIO_MISSING, f"{key.name} line {line_no} lists {rel}, which does not exist")
            continue
        b.add(path, vote_scores([[LABEL_MAP[i]] for i in ids]), speaker=fields[1].strip() or None, language="en",
              source_label=intended, n_raters=len(ids))
    b.reject_unclaimed(walk_audio(root, "Audio"), "VESUS_Key.csv does not list this audio")
    return b.finish()
