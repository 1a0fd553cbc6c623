"""CMU-MOSEI (English; train): YouTube monologues, segments rated for 6 emotions (0-3) and sentiment.

Zadeh et al., ACL 2018. Raw data on request from the authors; licence unconfirmed.

Layout as distributed (raw zip ``CMU_MOSEI.zip`` + the separately downloaded labels)::

    cmu_mosei/
      CMU_MOSEI_Labels.csd                      HDF5 "computational sequence" (looked up at the root,
                                                then in Raw/Labels/ and Labels/)
      Raw/Audio/Full/WAV_16000/<video_id>.wav   one full-video WAV per video, 16 kHz

``.csd``: group ``All Labels/data/<video_id>/`` holds ``features`` (N × 7, columns
[sentiment, happy, sad, anger, surprise, disgust, fear], emotions averaged over raters in [0, 3])
and ``intervals`` (N × 2, [start, end] in seconds). A segment is (video, row):
``-9YyBTjo1zo`` row 3 -> utterance key ``Raw/Audio/Full/WAV_16000/-9YyBTjo1zo/3``.

Soft label (docs/labels.md): each emotion's intensity / 3 on its class; an all-zero row means no
perceived emotion -> neutral 1. Gotchas handled: negative starts are clamped to 0 (TableBuilder),
overlapping and unordered segments are kept, empty segments are rejected.

Assumptions: speaker = video id (no speaker field exists); no official split (the SDK's standard
folds by video are not part of the download we read).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ser_pipeline.corpora.base import CorpusSpec, CorpusTables, Reason, ScanSettings, TableBuilder, require_root, walk_audio
from ser_pipeline.emotions import no_emotion_if_empty, score_vector

#: .csd feature columns 1..6 -> classes (column 0 is sentiment)
COLUMNS = ("happiness", "sadness", "anger", "surprise", "disgust", "fear")
LABEL_MAP: dict[str, dict[str, float]] = {c: {c: 1.0} for c in COLUMNS}
AUDIO_DIR = "Raw/Audio/Full/WAV_16000"

SPEC = CorpusSpec(
    name="cmu_mosei", title="CMU-MOSEI", role="train", languages=("en",),
    layout="CMU_MOSEI_Labels.csd (root, Raw/Labels/ or Labels/) + Raw/Audio/Full/WAV_16000/<video>.wav",
    soft_label_source="6 emotion intensities / 3 from the .csd; all-zero -> neutral 1",
    label_map=LABEL_MAP, sample_rates_hz=(16000,),
    assumptions="speaker = video id; no official split; segments keyed by their .csd row",
)


def find_csd(root: Path) -> Path:
    for rel in ("CMU_MOSEI_Labels.csd", "Raw/Labels/CMU_MOSEI_Labels.csd", "Labels/CMU_MOSEI_Labels.csd"):
        if (root / rel).is_file():
            return root / rel
    raise FileNotFoundError(f"cmu_mosei: CMU_MOSEI_Labels.csd not found under {root}")


def read(root: Path, *, scan: ScanSettings | None = None) -> CorpusTables:
    """Read CMU-MOSEI from ``root``: one row per labelled segment of a full-video WAV."""
    import h5py

    root = require_root(root, SPEC.name)
    b = TableBuilder(SPEC, root, scan)
    audio_dir = root / AUDIO_DIR
    csd = find_csd(root)
    # a file object, so the same code reads a local file and an object in a bucket
    with csd.open("rb") as handle, h5py.File(handle, "r") as f:
        data = f["All Labels"]["data"]
        for vid in sorted(data.keys()):
            path = audio_dir / f"{vid}.wav"
            try:
                feats = np.asarray(data[vid]["features"], dtype=np.float64)
                ivals = np.asarray(data[vid]["intervals"], dtype=np.float64)
                if feats.ndim != 2 or feats.shape[1] != 7 or ivals.shape != (len(feats), 2):
                    raise ValueError(f"features {feats.shape}, intervals {ivals.shape}")
            except (KeyError, ValueError) as exc:
                b.reject(path, Reason.MALFORMED, f"{csd.name}: video {vid}: {exc}")
                continue
            if not path.exists():
                b.reject(path, Reason.AUDIO_MISSING, f"{csd.name} labels video {vid}, whose WAV does not exist")
                continue
            for row, (feat, (start, end)) in enumerate(zip(feats, ivals, strict=True)):
                if not (np.all(np.isfinite(feat)) and np.isfinite(start) and np.isfinite(end)) or end <= max(start, 0):
                    b.reject(path, Reason.SEGMENT_OUT_OF_RANGE if end <= max(start, 0) else Reason.MALFORMED,
                             f"{vid} row {row}: interval [{start}, {end}] s, features {feat.tolist()}")
                    continue
                e = sum((score_vector({c: 1.0}, min(max(v, 0.0), 3.0) / 3.0) for c, v in zip(COLUMNS, feat[1:],
                                                                                              strict=True)),
                        np.zeros(8))
                b.add(path, no_emotion_if_empty(e), speaker=vid, language="en", source_label=None,
                      start_s=float(start), end_s=float(end), utterance_key=f"{AUDIO_DIR}/{vid}/{row}")
    b.reject_unclaimed(walk_audio(audio_dir), "the .csd has no segments for this video")
    return b.finish()
