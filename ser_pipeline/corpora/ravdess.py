"""RAVDESS, the Ryerson Audio-Visual Database of Emotional Speech and Song (English; train).

24 actors (12 F, 12 M) speak and sing two statements in 8 emotions at two intensities.
Livingstone & Russo, PLoS ONE 2018. CC BY-NC-SA 4.0. Audio-only WAV, 16-bit, 48 kHz (a 16 kHz
re-release exists; files are probed). A handful of files are stereo (down-mixed on load).

Layout as distributed (the two audio-only zips, unpacked side by side)::

    ravdess/
      Audio_Speech_Actors_01-24/Actor_01/03-01-01-01-01-01-01.wav ...   1,440 files
      Audio_Song_Actors_01-24/Actor_01/03-02-01-01-01-01-01.wav ...     1,012 files (no Actor_18)

Any folder depth is accepted: the reader takes every ``*.wav`` below the root.

File name ``03-01-05-02-01-02-18.wav`` -> audio-only, speech, angry, strong, statement 1,
repetition 2, actor 18 (female):

    ========  ===========  ==================================================================
    field     name         values
    ========  ===========  ==================================================================
    1         modality     01 full-AV, 02 video-only, 03 audio-only
    2         channel      01 speech, 02 song
    3         emotion      01 neutral 02 calm 03 happy 04 sad 05 angry 06 fearful 07 disgust
                           08 surprised
    4         intensity    01 normal, 02 strong (neutral has no strong)
    5, 6      statement, repetition
    7         actor        01-24; odd = male, even = female
    ========  ===========  ==================================================================

Soft label (docs/labels.md): the category's weight times intensity (normal 0.5, strong 1.0);
calm -> neutral 1. Song files are kept with ``modality = "song"``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa

from ser_pipeline.corpora.base import (
    CorpusSpec, CorpusTables, Reason, ScanSettings, TableBuilder, require_root, walk_audio,
)
from ser_pipeline.emotions import score_vector

LABEL_MAP: dict[str, dict[str, float]] = {
    "01": {"neutral": 1.0},
    "02": {"neutral": 1.0},  # calm
    "03": {"happiness": 1.0},
    "04": {"sadness": 1.0},
    "05": {"anger": 1.0},
    "06": {"fear": 1.0},
    "07": {"disgust": 1.0},
    "08": {"surprise": 1.0},
}
EMOTION_NAMES = {"01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry",
                 "06": "fearful", "07": "disgust", "08": "surprised"}
INTENSITY = {"01": 0.5, "02": 1.0}  # docs/labels.md: normal 0.5, strong 1.0
MODALITY = {"01": "speech", "02": "song"}

SPEC = CorpusSpec(
    name="ravdess",
    title="RAVDESS",
    role="train",
    languages=("en",),
    layout="Audio_{Speech,Song}_Actors_01-24/Actor_NN/MM-VV-EE-II-SS-RR-AA.wav (any depth)",
    soft_label_source="emotion field × intensity field (normal 0.5, strong 1.0); calm -> neutral",
    label_map=LABEL_MAP,
    sample_rates_hz=(48000,),
    extra_columns={"modality": pa.string()},
    assumptions="every *.wav below the root is read, whatever the zip folder names",
    code_version="1",
)

# 03-01-05-02-01-02-18 -> modality 03, channel 01, emotion 05, intensity 02, ..., actor 18
_NAME = re.compile(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})$")


def read(root: Path, *, scan: ScanSettings | None = None) -> CorpusTables:
    """Read RAVDESS (speech and song) from ``root``."""
    root = require_root(root, SPEC.name)
    b = TableBuilder(SPEC, root, scan)
    for path, m in b.named_files(walk_audio(root), _NAME, "7 two-digit fields"):
        _mod, channel, emotion, level, _stmt, _rep, actor = m.groups()
        if emotion not in LABEL_MAP or level not in INTENSITY or channel not in MODALITY:
            b.reject(path, Reason.LABEL_UNKNOWN, f"emotion {emotion} / intensity {level} / channel {channel}")
            continue
        b.add(path, score_vector(LABEL_MAP[emotion], INTENSITY[level]), speaker=actor,
              gender="M" if int(actor) % 2 else "F", language="en",
              source_label=f"{EMOTION_NAMES[emotion]}/{'normal' if level == '01' else 'strong'}",
              extra={"modality": MODALITY[channel]})
    return b.finish()
