"""EMO-DB, the Berlin Database of Emotional Speech (German; zero-shot evaluation set).

10 actors (5 F, 5 M) read 10 German sentences in 7 emotions; 535 files were released, those
recognised by ≥ 80 % of 20 listeners. Burkhardt et al., Interspeech 2005. Licence unconfirmed.

Layout as distributed (``wav_corpus/`` in some copies)::

    emodb/
      wav/03a01Fa.wav ...        535 files, 16 kHz
      erkennung.txt              Nr, Satz, erkannt %, natuerlich % (tab, decimal comma, latin-1)
      lablaut/ labsilb/ silb/    phone/syllable labels (not used)

File name ``03a01Fa.wav`` -> speaker "03", text "a01", emotion "F" (Freude = happiness),
version "a":

    ======  =====  ===================================
    chars   field  values
    ======  =====  ===================================
    1-2     speaker 03 08 09 10 11 12 13 14 15 16
    3-5     text   a01 a02 a04 a05 a07 b01 b02 b03 b09 b10
    6       emotion W A F T E N L (German initials)
    7       version a b c ...
    ======  =====  ===================================

Gotcha: ``A`` is Angst = fear, not anger. ``L`` (Langeweile, boredom) maps to sadness for the
paper's zero-shot evaluation; ``read(root, boredom="drop")`` rejects those files instead.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa

from ser_pipeline.corpora.base import (
    CorpusSpec, CorpusTables, Reason, ScanSettings, TableBuilder, read_text, require_root, walk_audio,
)
from ser_pipeline.emotions import score_vector

LABEL_MAP: dict[str, dict[str, float]] = {
    "W": {"anger": 1.0},
    "A": {"fear": 1.0},
    "F": {"happiness": 1.0},
    "T": {"sadness": 1.0},
    "E": {"disgust": 1.0},
    "N": {"neutral": 1.0},
    "L": {"sadness": 1.0},  # boredom; the paper's evaluation (configurable: boredom="drop")
}

GENDER = {"03": "M", "08": "F", "09": "F", "10": "M", "11": "M", "12": "M", "13": "F", "14": "F",
          "15": "M", "16": "F"}

SPEC = CorpusSpec(
    name="emodb",
    title="EMO-DB",
    role="zero_shot",
    languages=("de",),
    layout="wav/<spk:2><text:3><emotion:1><version:1>.wav; erkennung.txt (optional)",
    soft_label_source="acted emotion letter in the file name (one-hot); erkennung.txt recognition % kept",
    label_map=LABEL_MAP,
    sample_rates_hz=(16000,),
    extra_columns={"recognition_pct": pa.float64(), "naturalness_pct": pa.float64()},
    assumptions="audio in wav/ or wav_corpus/; boredom (L) -> sadness unless boredom='drop'",
    code_version="1",
)

# 03a01Fa -> ("03", "a01", "F", "a")
_NAME = re.compile(r"^(\d{2})([ab]\d{2})([A-Z])([a-z])$")


def _read_erkennung(root: Path) -> dict[str, tuple[float, float]]:
    """``erkennung.txt`` -> {file stem: (recognised %, natural %)}; empty if absent.

    Lines look like (tab-separated, decimal comma, latin-1)::

        Nr	Satz	erkannt	natuerlich
        1	03a01Fa	95,0	75,0
    """
    path = root / "erkennung.txt"
    if not path.is_file():
        return {}
    out = {}
    for line in read_text(path).splitlines()[1:]:
        parts = line.strip().split("\t")
        if len(parts) < 4:
            continue
        try:
            out[parts[1].removesuffix(".wav")] = (float(parts[2].replace(",", ".")),
                                                  float(parts[3].replace(",", ".")))
        except ValueError:
            continue
    return out


def read(root: Path, *, scan: ScanSettings | None = None, boredom: str = "sadness") -> CorpusTables:
    """Read EMO-DB from ``root``; ``boredom`` is ``"sadness"`` (the paper) or ``"drop"``."""
    if boredom not in ("sadness", "drop"):
        raise ValueError(f"emodb: boredom must be 'sadness' or 'drop', not {boredom!r}")
    root = require_root(root, SPEC.name)
    b = TableBuilder(SPEC, root, scan)
    perception = _read_erkennung(root)
    audio_dir = "wav" if (root / "wav").is_dir() else "wav_corpus"
    for path, m in b.named_files(walk_audio(root, audio_dir), _NAME, "<spk><text><emotion><version>"):
        spk, _text, code, _ver = m.groups()
        if code not in LABEL_MAP:
            b.reject(path, Reason.LABEL_UNKNOWN, f"emotion letter {code!r}")
            continue
        if code == "L" and boredom == "drop":
            b.reject(path, Reason.LABEL_UNKNOWN, "boredom (L) dropped by configuration")
            continue
        rec, nat = perception.get(path.stem, (None, None))
        b.add(path, score_vector(LABEL_MAP[code]), speaker=spk, gender=GENDER.get(spk), language="de",
              source_label=code, extra={"recognition_pct": rec, "naturalness_pct": nat})
    return b.finish()
