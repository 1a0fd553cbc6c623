"""MSP-Podcast (English; train): speaking turns from podcasts, crowd-rated.

Lotfian & Busso, IEEE TAC 2019. Distributed by the UTD MSP Lab under an agreement; releases differ
(73k to 207k turns).

Layout as distributed (release 1.12; older releases spell ``labels_concensus`` and use ``Audio/``)::

    msp_podcast/
      Audios/MSP-PODCAST_0001_0008.wav          16 kHz
      Labels/labels_consensus.csv               FileName,EmoClass,EmoAct,EmoVal,EmoDom,SpkrID,Gender,Split_Set
      Labels/labels_detailed.csv                FileName,"WORKER0000001; Neutral; Neutral,Confused; A:1.0; V:4.0; D:1.0;"
      Labels/labels_detailed.json               {FileName: {WorkerID: {EmoClass_Major, ...}}}

Soft label (docs/labels.md): per-annotator primary votes (``labels_detailed``, CSV or JSON) when present,
else ``EmoClass``: A anger, S sadness, H happiness, U surprise, F fear, D disgust, C contempt
(disgust 0.5), N neutral, O other; X (no agreement) with no votes is rejected as unlabelled.
Primary vote strings: Angry, Sad, Happy, Surprise, Fear, Disgust, Contempt, Neutral and
``Other-<free text>`` (-> other). ``Split_Set`` (Train / Validation | Development / Test1-3) is the
``official_split``; ``SpkrID`` ``Unknown`` -> unknown speaker.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from ser_pipeline.corpora.base import (
    CorpusSpec, CorpusTables, Reason, ScanSettings, TableBuilder, read_text, require_root, walk_audio,
)
from ser_pipeline.emotions import score_vector, vote_scores

LABEL_MAP: dict[str, dict[str, float]] = {
    "A": {"anger": 1.0}, "S": {"sadness": 1.0}, "H": {"happiness": 1.0}, "U": {"surprise": 1.0},
    "F": {"fear": 1.0}, "D": {"disgust": 1.0}, "C": {"disgust": 0.5}, "N": {"neutral": 1.0}, "O": {"other": 1.0},
    # per-annotator primary strings
    "Angry": {"anger": 1.0}, "Sad": {"sadness": 1.0}, "Happy": {"happiness": 1.0}, "Surprise": {"surprise": 1.0},
    "Fear": {"fear": 1.0}, "Disgust": {"disgust": 1.0}, "Contempt": {"disgust": 0.5}, "Neutral": {"neutral": 1.0},
    "Other": {"other": 1.0},
}

SPEC = CorpusSpec(
    name="msp_podcast", title="MSP-Podcast", role="train", languages=("en",),
    layout="Audio(s)/MSP-PODCAST_<pod>_<seg>.wav; Labels/labels_con(s|c)ensus.csv|json; "
           "Labels/labels_detailed.csv|json (optional)",
    soft_label_source="per-annotator primary votes (labels_detailed) when present, else EmoClass; X without votes rejected",
    label_map=LABEL_MAP, sample_rates_hz=(16000,),
    assumptions="'Other-<text>' primary votes count as other; unknown primary strings are skipped as votes",
)


def _primary(label: str) -> dict[str, float] | None:
    label = label.strip()
    if label.startswith("Other"):
        return LABEL_MAP["Other"]
    return LABEL_MAP.get(label)


def _consensus(labels: Path) -> list[dict[str, str]]:
    for name in ("labels_consensus.csv", "labels_concensus.csv"):
        if (labels / name).is_file():
            return list(csv.DictReader(io.StringIO(read_text(labels / name))))
    for name in ("labels_consensus.json", "labels_concensus.json"):
        if (labels / name).is_file():
            data = json.loads(read_text(labels / name))
            return [{"FileName": k, **v} for k, v in data.items()]
    raise FileNotFoundError(f"msp_podcast: no Labels/labels_consensus.csv|json (or labels_concensus) in {labels}")


def _votes(labels: Path) -> dict[str, list[str]]:
    """{FileName: [primary label per worker]} from labels_detailed.csv or .json ({} if absent)."""
    out: dict[str, list[str]] = {}
    if (labels / "labels_detailed.json").is_file():
        for fname, workers in json.loads(read_text(labels / "labels_detailed.json")).items():
            out[fname] = [w.get("EmoClass_Major", "") for w in workers.values()]
    elif (labels / "labels_detailed.csv").is_file():
        reader = csv.reader(io.StringIO(read_text(labels / "labels_detailed.csv")))
        next(reader, None)
        for fields in reader:
            if len(fields) >= 2:
                parts = [p.strip() for p in fields[1].split(";")]
                if len(parts) >= 2:  # worker; primary; secondary; A; V; D
                    out.setdefault(fields[0].strip(), []).append(parts[1])
    return out


def read(root: Path, *, scan: ScanSettings | None = None) -> CorpusTables:
    """Read MSP-Podcast from ``root``."""
    root = require_root(root, SPEC.name)
    labels = root / "Labels" if (root / "Labels").is_dir() else root / "labels"
    audio_dir = root / "Audios" if (root / "Audios").is_dir() else root / "Audio"
    b = TableBuilder(SPEC, root, scan)
    votes = _votes(labels)
    for row in _consensus(labels):
        fname = (row.get("FileName") or "").strip()
        path = audio_dir / fname
        if not fname:
            continue
        code = (row.get("EmoClass") or "").strip()
        worker = [w for w in (_primary(v) for v in votes.get(fname, [])) if w is not None]
        if worker:
            scores, n = vote_scores([[w] for w in worker]), len(worker)
        elif code in LABEL_MAP:
            scores, n = score_vector(LABEL_MAP[code]), None
        elif code == "X":
            b.reject(path, Reason.NO_AGREEMENT, "EmoClass X (no agreement) and no per-annotator votes")
            continue
        else:
            b.reject(path, Reason.LABEL_UNKNOWN, f"EmoClass {code!r}")
            continue
        if not path.exists():
            b.reject(path, Reason.AUDIO_MISSING, f"labels list {fname}, which does not exist")
            continue
        spk = (row.get("SpkrID") or "").strip()
        gender = {"male": "M", "female": "F"}.get((row.get("Gender") or "").strip().lower())
        b.add(path, scores, speaker=None if spk in ("", "Unknown") else spk, gender=gender, language="en",
              source_label=code, official_split=(row.get("Split_Set") or "").strip() or None, n_raters=n)
    b.reject_unclaimed(walk_audio(audio_dir), "no labels_consensus row lists this audio")
    return b.finish()
