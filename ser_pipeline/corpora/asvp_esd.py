"""ASVP-ESD, the Audio, Speech and Vision Processing Lab Emotional Sound Database (multilingual;
train; "AVSP" in the paper's Table 1).

Speech and non-speech emotional sounds (laughs, cries, breaths, groans, ...) cut from movies, TV,
YouTube and sound websites; labels by majority vote of 5 (later 3) annotators, already applied
(no votes in the release). Landry et al. 2020, Zenodo records 3782416 (v1) / 5573185 (v2) /
7132783 (update), Kaggle copy; "please cite", exact licence unconfirmed. 16 kHz.

Layout (EmoBox copy)::

    asvp_esd/
      Audio/actor_<n>/<name>.wav       12,625 files; odd folder number = female
      Audio/actor_/<name>.wav          one folder without a number
      Bonus/actor_<n>/<name>.wav       1,339 files (actor_150 mostly baby voices, actor_50, actor_200)

File name: 8 to 12 hyphen-separated numeric fields.
``03-01-10-01-02-12-02-03-02.wav`` -> audio-only, speech, pleasure, normal intensity, statement
02, actor 12, age 20-64, source movies, language 02:

    ========  ==============  ===================================================
    position  field           values
    ========  ==============  ===================================================
    1         modality        03 audio-only
    2         vocal channel   01 speech, 02 non-speech (-> column ``vocal_channel``)
    3         emotion         01-13 (below); 17 unknown (one file) -> unknown_label
    4         intensity       01 normal (x0.5), 02 high (x1.0); stray values
                              (04, 00, 021, ...) -> malformed_annotation
    5         statement       item number
    6         actor           usually the folder number
    7         age             01 >65, 02 20-64, 03 <20, 04 baby (-> ``age_group``)
    8         source          01/02 website / YouTube, 03 movies
    9         language        optional; codes conflict between readers (below)
    10-12     further fields  meaning unconfirmed, ignored
    ========  ==============  ===================================================

Emotion codes (docs/labels.md): 01 boredom -> other 1; 02 neutral; 03 happy; 04 sad; 05 angry;
06 fear; 07 disgust; 08 surprise; 09 excited -> happiness 1; 10 pleasure -> happiness 0.5;
11 pain -> other 1; 12 disappointment -> sadness 0.5; 13 breath/others -> other 1.
Raw score = category weight x intensity (normal 0.5, high 1.0), e.g. pleasure at normal
intensity -> happiness 0.5 x 0.5 = 0.25. Neutral is scaled too (02 at normal -> neutral 0.5).

Assumptions (unconfirmed in corpora.md):
- Speaker = the **folder** number (the Zenodo gender rule "odd folder number = female" is about
  folders); the name's actor field is kept in ``name_actor``. The folder ``actor_`` (no number)
  and any folder not named ``actor_<n>`` fall back to the name's actor field. ``Bonus/`` folders
  get speaker ids ``bonus_<n>`` (they are not known to be the same people as ``Audio/actor_<n>``).
  Gender = parity of the number used (odd F, even M).
- Language (field 9): ``language_codes="emobox"`` (default): 01 zh, 02 en, 04 fr;
  ``"nkululeko"``: 00 zh, 01 en, 02 fr, 03 ru. A missing field or any other code gives "und"
  (undetermined; EmoBox says "Russian and others"), the one non-ISO-639-1 value in the column.
- Stray intensity values are rejected (``stray_intensity="reject"``, default); with
  ``stray_intensity="high"`` they count as high (1.0).
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
    "01": {"other": 1.0},  # boredom
    "02": {"neutral": 1.0},
    "03": {"happiness": 1.0},  # happy
    "04": {"sadness": 1.0},  # sad
    "05": {"anger": 1.0},  # angry
    "06": {"fear": 1.0},
    "07": {"disgust": 1.0},
    "08": {"surprise": 1.0},
    "09": {"happiness": 1.0},  # excited
    "10": {"happiness": 0.5},  # pleasure
    "11": {"other": 1.0},  # pain, groan
    "12": {"sadness": 0.5},  # disappointment, disapproval
    "13": {"other": 1.0},  # breath (EmoBox) / others (nkululeko)
}
EMOTION_NAMES = {"01": "boredom", "02": "neutral", "03": "happy", "04": "sad", "05": "angry",
                 "06": "fear", "07": "disgust", "08": "surprise", "09": "excited", "10": "pleasure",
                 "11": "pain", "12": "disappointment", "13": "breath"}
INTENSITY = {"01": 0.5, "02": 1.0}  # normal, high (docs/labels.md)
VOCAL_CHANNEL = {"01": "speech", "02": "non-speech"}
AGE_GROUP = {"01": ">65", "02": "20-64", "03": "<20", "04": "baby"}
LANGUAGE_CODES = {
    "emobox": {"01": "zh", "02": "en", "04": "fr"},
    "nkululeko": {"00": "zh", "01": "en", "02": "fr", "03": "ru"},
}
UNKNOWN_LANGUAGE = "und"

SPEC = CorpusSpec(
    name="asvp_esd",
    title="ASVP-ESD",
    role="train",
    languages=("zh", "en", "fr", "ru", "und"),
    layout="{Audio,Bonus}/actor_<n>/<modality>-<channel>-<emotion>-<intensity>-<statement>-<actor>-"
           "<age>-<source>[-<language>[-...]].wav (8-12 fields)",
    soft_label_source="emotion code in the name (weight row) x intensity (normal 0.5, high 1.0)",
    label_map=LABEL_MAP,
    sample_rates_hz=(16000,),
    extra_columns={"vocal_channel": pa.string(), "age_group": pa.string(), "name_actor": pa.string()},
    assumptions="speaker = folder number (name's actor kept in name_actor; actor_ without number -> "
                "name's actor); Bonus speakers bonus_<n>; gender odd = F; language codes per EmoBox "
                "(option 'nkululeko'), missing/other -> 'und'; stray intensities rejected",
    code_version="1",
)

_FOLDER = re.compile(r"^actor_(\d*)$")


def _speaker(b: TableBuilder, path: Path, name_actor: str) -> str:
    """Speaker id: ``actor_<n>`` folder number, ``bonus_<n>`` under Bonus/, else the name's actor."""
    m = _FOLDER.match(path.parent.name)
    if not m or not m.group(1):
        return str(int(name_actor))
    top = b.rel(path).split("/")[0]
    num = str(int(m.group(1)))
    return f"bonus_{num}" if top.lower() == "bonus" else num


def read(root: Path, *, scan: ScanSettings | None = None, language_codes: str = "emobox",
         stray_intensity: str = "reject") -> CorpusTables:
    """Read ASVP-ESD from ``root`` (the folder holding ``Audio/`` and ``Bonus/``).

    Args:
        language_codes: "emobox" (default) or "nkululeko": how field 9 maps to a language.
        stray_intensity: "reject" (default) or "high": intensity fields other than 01/02.
    """
    if language_codes not in LANGUAGE_CODES:
        raise ValueError(f"asvp_esd: language_codes must be one of {sorted(LANGUAGE_CODES)}, not {language_codes!r}")
    if stray_intensity not in ("reject", "high"):
        raise ValueError(f"asvp_esd: stray_intensity must be 'reject' or 'high', not {stray_intensity!r}")
    lang_map = LANGUAGE_CODES[language_codes]
    root = require_root(root, SPEC.name)
    b = TableBuilder(SPEC, root, scan)
    audio = walk_audio(root)
    for path in audio:
        # 03-02-10-01-02-12-02-03-02 -> 9 fields
        fields = path.stem.split("-")
        if not 8 <= len(fields) <= 12 or not all(f.isdigit() for f in fields):
            b.reject(path, Reason.MALFORMED, f"{path.name}: expected 8-12 numeric '-' fields")
            continue
        _modality, channel, emo, level, _statement, actor, age, _source = fields[:8]
        if channel not in VOCAL_CHANNEL:
            b.reject(path, Reason.MALFORMED, f"{path.name}: vocal channel field {channel!r} is not 01/02")
            continue
        if emo not in LABEL_MAP:
            b.reject(path, Reason.LABEL_UNKNOWN, f"{path.name}: emotion code {emo!r}")
            continue
        scale = INTENSITY.get(level)
        if scale is None:
            if stray_intensity == "reject":
                b.reject(path, Reason.MALFORMED,
                         f"{path.name}: intensity field {level!r} is neither 01 (normal) nor 02 (high)")
                continue
            scale = 1.0
        spk = _speaker(b, path, actor)
        num = int(re.sub(r"\D", "", spk))
        lang = lang_map.get(fields[8], UNKNOWN_LANGUAGE) if len(fields) > 8 else UNKNOWN_LANGUAGE
        b.add(path, score_vector(LABEL_MAP[emo], scale), speaker=spk, gender="F" if num % 2 else "M",
              language=lang, source_label=f"{emo}-{level}",
              extra={"vocal_channel": VOCAL_CHANNEL[channel], "age_group": AGE_GROUP.get(age),
                     "name_actor": actor})
    b.reject_unclaimed(audio)
    return b.finish()
