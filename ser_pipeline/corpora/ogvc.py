"""OGVC, the Online Gaming Voice Chat Corpus with Emotional Label (Japanese; training corpus).

Two parts. The spontaneous ("natural") part: voice-chat dialogs of 13 university students playing
an MMORPG (about 1 h each), recorded with Skype + Tapur with the local and remote player in
separate channels of a stereo file. The acted part: 4 actors speaking the Plutchik emotions at
intensities 0-3. Arimoto et al., Acoustical Science and Technology 2012. Distributed by the NII
Speech Resources Consortium (terms unconfirmed).

Acted part (nkululeko's ``process_database.py``)::

    ogvc/
      OGVC/Acted/wav/<F1|F2|M1|M2>/<subdir>/<file>.wav
      OGVC/Natural/...            (assumed, see below)

Acted file name ``FOY0101ANT0.wav`` -> gender "F", speaker initials "OY" (speaker "FOY"), text
"0101", emotion "ANT" (anticipation -> other), intensity 0 (-> no emotion -> neutral 1):

    =====  =========  =====================================================
    chars  field      values
    =====  =========  =====================================================
    0      gender     F M
    1-2    initials   speaker initials (speaker id = chars 0-2)
    3-6    text id    4 digits
    7-9    emotion    JOY ACC FEA SUR SAD DIS ANG ANT (NEU OTH accepted)
    10     intensity  0-3; raw score = the code's weight x n/3; 0 -> neutral 1
    =====  =========  =====================================================

Natural part: layout and label format are **unconfirmed**. This reader ASSUMES, and is tolerant
within that:

- every audio file that is not below a directory named ``Acted`` belongs to the natural part;
- its labels are in text tables (``*.txt``, ``*.csv``, ``*.tsv``; README files skipped) below a
  directory named ``Natural`` (or, if there is none, anywhere outside ``Acted``); separators tab, comma, semicolon or white space; lines starting
  with ``#`` and header lines (first field ``file``/``filename``/``id``/``name``) are skipped;
- a line is ``<utterance> <code> [<code> ...]``: the utterance is the wav's stem (or its path
  relative to the root, without extension); each following emotion code is **one rater's vote**
  (docs/labels.md: e = mean of the raters' weight rows; ``n_raters`` = number of codes); a code may
  carry an intensity digit (``JOY2`` -> weight x 2/3); other fields (numbers, times, text) are
  ignored; an all-zero vector -> neutral 1;
- the speaker is the wav's parent directory unless that is ``wav``/``Natural``/the root, then the
  stem's prefix before the first ``_`` or ``-``; gender unknown.

Example natural label line (tab-separated; the synthetic layout writes this form)::

    S01_0001	JOY	JOY	ACC         # -> happiness 2/3, other 1/3, n_raters 3

Channels: files are kept as stored (``channels`` records 2 for stereo chat recordings); which
channel holds the speaker is unconfirmed, and the audio layer down-mixes.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa

from ser_pipeline.corpora.base import (
    CorpusSpec, CorpusTables, Reason, ScanSettings, TableBuilder, read_text, require_root, walk_audio,
)
from ser_pipeline.emotions import no_emotion_if_empty, score_vector, vote_scores

LABEL_MAP: dict[str, dict[str, float]] = {
    "JOY": {"happiness": 1.0},
    "FEA": {"fear": 1.0},
    "SUR": {"surprise": 1.0},
    "SAD": {"sadness": 1.0},
    "DIS": {"disgust": 1.0},
    "ANG": {"anger": 1.0},
    "ACC": {"other": 1.0},  # acceptance (Plutchik)
    "ANT": {"other": 1.0},  # anticipation (Plutchik)
    "NEU": {"neutral": 1.0},
    "OTH": {"other": 1.0},
}

SPEC = CorpusSpec(
    name="ogvc",
    title="OGVC",
    role="train",
    languages=("ja",),
    layout="OGVC/Acted/wav/<F1|F2|M1|M2>/<subdir>/<G><II><text:4><EMO><0-3>.wav; "
           "OGVC/Natural/**.wav + label tables <utt> <code>... (assumed)",
    soft_label_source="acted: code weight x intensity/3 (0 -> neutral 1); natural (assumed): "
                      "mean of the raters' codes",
    label_map=LABEL_MAP,
    sample_rates_hz=(),  # unconfirmed; every file is probed
    extra_columns={"part": pa.string(), "acted_intensity": pa.int16()},
    assumptions="natural part: non-Acted wavs labelled by text tables '<stem> <code> <code> ...', "
                "one code per rater, optional intensity digit; speaker = parent dir or stem "
                "prefix; stereo kept as stored (channel choice unconfirmed); acted speaker id = "
                "gender + initials from the name",
    code_version="1",
)

# FOY0101ANT0 -> ("F", "OY", "0101", "ANT", "0")
_ACTED = re.compile(r"^([FM])([A-Z]{2})(\d{4})([A-Z]{3})([0-3])$", re.IGNORECASE)
# one rater field: JOY or JOY2
_CODE = re.compile(r"^([A-Za-z]{3})([0-3])?$")
_SEP = re.compile(r"[\t,;]|\s+")
_HEADER = {"file", "filename", "file_name", "id", "name", "utterance", "wav"}
_LABEL_EXT = (".txt", ".csv", ".tsv")
_SPK_SPLIT = re.compile(r"[_-]")


def _in_acted(rel: Path) -> bool:
    return any(p.lower() == "acted" for p in rel.parts[:-1])


def _read_acted(b: TableBuilder, path: Path) -> None:
    m = _ACTED.match(path.stem)
    if not m:
        b.reject(path, Reason.MALFORMED, f"acted file name {path.name} is not <G><II><text:4><EMO><0-3>")
        return
    gender, initials, _text, code, level = m.groups()
    code = code.upper()
    if code not in LABEL_MAP:
        b.reject(path, Reason.LABEL_UNKNOWN, f"emotion code {code!r}")
        return
    n = int(level)
    e = no_emotion_if_empty(score_vector(LABEL_MAP[code], n / 3.0))
    b.add(path, e, speaker=f"{gender.upper()}{initials.upper()}", gender=gender.upper(), language="ja",
          source_label=f"{code}{n}", extra={"part": "acted", "acted_intensity": n})


def _natural_speaker(root: Path, path: Path) -> str | None:
    parent = path.parent
    if parent != root and parent.name.lower() not in ("wav", "natural", "ogvc"):
        return parent.name
    head = _SPK_SPLIT.split(path.stem, maxsplit=1)
    return head[0] if len(head) == 2 and head[0] else None


def _label_files(root: Path) -> list[Path]:
    """Label tables of the natural part: below a ``Natural`` directory if there is one, else
    anywhere outside ``Acted``; README files skipped."""
    out = []
    for p in sorted(root.rglob("*")):
        parts = [q.lower() for q in p.relative_to(root).parts[:-1]]
        if (p.is_file() and p.suffix.lower() in _LABEL_EXT and not p.name.lower().startswith("readme")
                and "acted" not in parts):
            out.append((p, "natural" in parts))
    if any(below for _, below in out):
        return [p for p, below in out if below]
    return [p for p, _ in out]


def _read_natural(b: TableBuilder, root: Path, natural: list[Path]) -> None:
    by_stem: dict[str, list[Path]] = {}
    by_rel: dict[str, Path] = {}
    for p in natural:
        by_stem.setdefault(p.stem.lower(), []).append(p)
        by_rel[p.relative_to(root).with_suffix("").as_posix().lower()] = p
    for label_file in _label_files(root):
        for lineno, line in enumerate(read_text(label_file).splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            fields = [f for f in _SEP.split(line) if f]
            if fields[0].lower() in _HEADER:
                continue
            ref = fields[0].strip('"')
            where = f"{b.rel(label_file)} line {lineno}"
            # the audio this line labels
            key = ref.replace("\\", "/")
            key = key.rsplit(".", 1)[0] if key.lower().endswith((".wav", ".flac")) else key
            if "/" in key:
                target = by_rel.get(key.lower())
                candidates = [target] if target else []
            else:
                candidates = by_stem.get(key.lower(), [])
            if not candidates:
                b.reject(ref, Reason.AUDIO_MISSING, f"{where}: listed {ref!r}, no such audio")
                continue
            if len(candidates) > 1:
                for c in candidates:
                    b.reject(c, Reason.MALFORMED, f"{where}: {ref!r} matches {len(candidates)} files")
                continue
            path = candidates[0]
            votes, codes, unknown = [], [], []
            for f in fields[1:]:
                m = _CODE.match(f.strip('"'))
                if not m:
                    continue  # times, scores, free text: not a rater's category
                code, level = m.group(1).upper(), m.group(2)
                if code not in LABEL_MAP:
                    unknown.append(code)
                    continue
                scale = int(level) / 3.0 if level is not None else 1.0
                votes.append([{c: w * scale for c, w in LABEL_MAP[code].items()}])
                codes.append(code + (level or ""))
            if unknown:
                b.reject(path, Reason.LABEL_UNKNOWN, f"{where}: emotion code(s) {unknown}")
                continue
            if not votes:
                b.reject(path, Reason.MALFORMED, f"{where}: no emotion code in {line!r}")
                continue
            e = no_emotion_if_empty(vote_scores(votes))
            b.add(path, e, speaker=_natural_speaker(root, path), language="ja",
                  source_label=" ".join(codes), n_raters=len(votes),
                  extra={"part": "natural", "acted_intensity": None})


def read(root: Path, *, scan: ScanSettings | None = None) -> CorpusTables:
    """Read OGVC (acted and, under the documented assumption, natural part) from ``root``."""
    root = require_root(root, SPEC.name)
    b = TableBuilder(SPEC, root, scan)
    audio = walk_audio(root)
    natural = []
    for path in audio:
        if _in_acted(path.relative_to(root)):
            _read_acted(b, path)
        else:
            natural.append(path)
    _read_natural(b, root, natural)
    b.reject_unclaimed(audio, "natural-part audio that no label table lists")
    return b.finish()
