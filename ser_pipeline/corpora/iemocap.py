"""IEMOCAP, the Interactive Emotional Dyadic Motion Capture database (English; train; Session 4
is the paper's test set).

10 actors in 5 dyadic sessions (one F, one M each), improvised and scripted dialogs, each
utterance rated by several external evaluators. Busso et al., LRE 2008. EULA, research only.

Layout as distributed (``IEMOCAP_full_release/``)::

    Session1/dialog/EmoEvaluation/Ses01F_impro01.txt     consensus + per-evaluator blocks (top level only)
    Session1/dialog/EmoEvaluation/Categorical/ ...        per-evaluator files (not read)
    Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_F000.wav   16 kHz

An EmoEvaluation block (tab-separated header, blank line between blocks, a ``%`` header line)::

    [140.2250 - 145.6000]	Ses01F_impro05_F019	ang	[1.5000, 4.0000, 4.5000]
    C-E1:	Anger;	()
    C-E3:	Frustration; Anger;	()
    C-F1:	Anger;	()
    A-E3:	val 2; act 4; dom  4;	()

Utterance id ``Ses01F_impro05_F019`` -> session 1, dialog ``Ses01F_impro05``, speaker of the
utterance = ``Ses01`` + the F/M of the last component (here ``Ses01F``, female; the ``Ses01F``
prefix only names the dialog's mocap wearer). Scripted ids carry an extra part
(``Ses01F_script01_1_M003``).

Soft label (docs/labels.md): the mean over external raters (``C-E*``; ``C-F*``/``C-M*`` are the
actors' self-evaluations, ignored) of each rater's weight row; a rater listing k categories
gives each 1/k. Excited -> happiness 1, Frustration -> anger 0.5, Neutral state -> neutral,
Other -> other. The consensus code is used only where no external rater line exists; ``xxx``
utterances are kept (their votes are the label). ``official_split`` = ``Session<k>``.
"""

from __future__ import annotations

import re
from pathlib import Path

from ser_pipeline.corpora.base import (
    CorpusSpec, CorpusTables, Reason, ScanSettings, TableBuilder, read_text, require_root, walk_audio,
)
from ser_pipeline.emotions import score_vector, vote_scores

LABEL_MAP: dict[str, dict[str, float]] = {
    # rater categories
    "Neutral state": {"neutral": 1.0}, "Neutral": {"neutral": 1.0}, "Anger": {"anger": 1.0},
    "Happiness": {"happiness": 1.0}, "Excited": {"happiness": 1.0}, "Sadness": {"sadness": 1.0},
    "Frustration": {"anger": 0.5}, "Fear": {"fear": 1.0}, "Surprise": {"surprise": 1.0},
    "Disgust": {"disgust": 1.0}, "Other": {"other": 1.0},
    # consensus codes (used only where no external rater line exists)
    "neu": {"neutral": 1.0}, "ang": {"anger": 1.0}, "hap": {"happiness": 1.0}, "exc": {"happiness": 1.0},
    "sad": {"sadness": 1.0}, "fru": {"anger": 0.5}, "fea": {"fear": 1.0}, "sur": {"surprise": 1.0},
    "dis": {"disgust": 1.0}, "oth": {"other": 1.0},
}

SPEC = CorpusSpec(
    name="iemocap", title="IEMOCAP", role="train", languages=("en",),
    layout="Session<k>/dialog/EmoEvaluation/*.txt (top level) + Session<k>/sentences/wav/<dialog>/<utt>.wav",
    soft_label_source="per-rater C-E* categories (1/k each of k listed), mean over raters; consensus code only "
                      "without rater lines; xxx kept",
    label_map=LABEL_MAP, sample_rates_hz=(16000,),
    assumptions="'Other' with free text counts as other; a category outside the map is rejected",
)

_HEADER = re.compile(r"^\[(\d+\.?\d*) - (\d+\.?\d*)\]\t(\S+)\t(\S+)\t")
_RATER = re.compile(r"^C-([A-Z]+\d*):\t(.*?)\t")
_UTT = re.compile(r"^(Ses(\d\d))[FM]_.*_([FM])[X\d]{3}$")


def _parse_file(text: str):
    """Yield (utterance id, consensus code, [rater categories ...]) per block."""
    utt, code, raters = None, None, []
    for line in text.splitlines() + [""]:
        if not line.strip():
            if utt is not None:
                yield utt, code, raters
            utt, code, raters = None, None, []
            continue
        m = _HEADER.match(line)
        if m:
            if utt is not None:
                yield utt, code, raters
            utt, code, raters = m.group(3), m.group(4), []
            continue
        m = _RATER.match(line + "\t")
        if m and utt is not None:
            rater, cats = m.groups()
            if rater.startswith("E"):  # external evaluators; F*/M* are self-evaluations
                raters.append([c.strip() for c in cats.split(";") if c.strip()])


def read(root: Path, *, scan: ScanSettings | None = None) -> CorpusTables:
    """Read IEMOCAP from ``root`` (the ``IEMOCAP_full_release`` folder)."""
    root = require_root(root, SPEC.name)
    b = TableBuilder(SPEC, root, scan)
    sessions = sorted(p for p in root.iterdir() if p.is_dir() and re.fullmatch(r"Session\d", p.name))
    audio = []
    for session in sessions:
        wav_dir = session / "sentences" / "wav"
        audio += walk_audio(wav_dir)
        for eval_file in sorted((session / "dialog" / "EmoEvaluation").glob("*.txt")):  # top level only
            dialog = eval_file.stem
            for utt, code, raters in _parse_file(read_text(eval_file)):
                path = wav_dir / dialog / f"{utt}.wav"
                m = _UTT.match(utt)
                if not m:
                    b.reject(path, Reason.MALFORMED, f"{eval_file.name}: utterance id {utt!r}")
                    continue
                if not path.exists():
                    b.reject(path, Reason.AUDIO_MISSING, f"{eval_file.name} lists {utt}, whose audio does not exist")
                    continue
                unknown = sorted({c for r in raters for c in r if c not in LABEL_MAP})
                if unknown:
                    b.reject(path, Reason.LABEL_UNKNOWN, f"rater categories {unknown}")
                    continue
                if raters:
                    scores = vote_scores([[LABEL_MAP[c] for c in r] for r in raters])
                elif code in LABEL_MAP:
                    scores = score_vector(LABEL_MAP[code])
                else:
                    b.reject(path, Reason.NO_AGREEMENT, f"consensus {code!r} and no external rater lines")
                    continue
                prefix, _num, gender = m.groups()
                b.add(path, scores, speaker=f"{prefix}{gender}", gender=gender, language="en", source_label=code,
                      official_split=session.name, n_raters=len(raters) or None)
    b.reject_unclaimed(audio, "no EmoEvaluation block lists this utterance")
    return b.finish()
