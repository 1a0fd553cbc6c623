"""STUDIES, a corpus of Japanese empathetic dialogue speech (Japanese; train).

A teacher (female) and two students (female, male) in dialogues; each line labelled with one of
4 emotions. Saito et al., arXiv 2203.14757; available on request (terms unconfirmed).

Layout (third-party preparation scripts)::

    studies/
      Long_dialogue/LD01/txt/LD01.txt             話者|感情|テキスト|...   one line per utterance
      Long_dialogue/LD01/wav/LD01-Dialogue-01-Teacher-Turn-01.wav
      Short_dialogue/SD01/...   ITA/Emotion100-Angry/...

A transcript line::

    講師|平静|では授業を始めます。|0

Speakers: 講師 Teacher (F), 女子生徒 FStudent (F), 男子生徒 MStudent (M); emotions 平静 neutral,
喜び happiness, 悲しみ sadness, 怒り anger.

Assumption (corpora.md: "verify on real data"): a subset's transcript lines pair with that
speaker's WAVs (the file name holds ``Teacher``/``FStudent``/``MStudent``) in sorted order, as the
third-party code does. Surplus WAVs are rejected as ``label_missing``; surplus lines as
``audio_missing``; malformed lines as ``malformed_annotation``.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from ser_pipeline.corpora.base import (
    CorpusSpec, CorpusTables, Reason, ScanSettings, TableBuilder, read_text, require_root, walk_audio,
)
from ser_pipeline.emotions import score_vector

LABEL_MAP: dict[str, dict[str, float]] = {
    "平静": {"neutral": 1.0}, "喜び": {"happiness": 1.0}, "悲しみ": {"sadness": 1.0}, "怒り": {"anger": 1.0},
}
SPEAKERS = {"講師": ("Teacher", "F"), "女子生徒": ("FStudent", "F"), "男子生徒": ("MStudent", "M")}

SPEC = CorpusSpec(
    name="studies", title="STUDIES", role="train", languages=("ja",),
    layout="<ITA|Long_dialogue|Short_dialogue>/<subset>/txt/*.txt + wav/*<Teacher|FStudent|MStudent>*.wav",
    soft_label_source="emotion field of the transcript line (one-hot)", label_map=LABEL_MAP,
    assumptions="lines pair with the speaker's wavs in sorted order (no explicit ids)",
)


def _speaker_of(name: str) -> str | None:
    for token in ("FStudent", "MStudent", "Teacher"):
        if token in name:
            return token
    return None


def read(root: Path, *, scan: ScanSettings | None = None) -> CorpusTables:
    """Read STUDIES from ``root``."""
    root = require_root(root, SPEC.name)
    b = TableBuilder(SPEC, root, scan)
    all_audio = walk_audio(root)
    for txt_dir in sorted(p for p in root.rglob("txt") if p.is_dir()):
        subset = txt_dir.parent
        lines: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
        for txt in sorted(txt_dir.glob("*.txt")):
            for no, line in enumerate(read_text(txt).splitlines(), start=1):
                if not line.strip():
                    continue
                fields = line.split("|")
                if len(fields) < 3 or fields[0] not in SPEAKERS:
                    b.reject(txt, Reason.MALFORMED, f"{txt.name} line {no}: {line[:60]!r}")
                    continue
                lines[SPEAKERS[fields[0]][0]].append((fields[1], f"{txt.name}:{no}", no))
        wavs: dict[str, list[Path]] = defaultdict(list)
        for w in walk_audio(subset, "wav"):
            spk = _speaker_of(w.name)
            if spk is None:
                b.reject(w, Reason.LABEL_MISSING, "no speaker token (Teacher/FStudent/MStudent) in the name")
                continue
            wavs[spk].append(w)
        for spk in sorted(set(lines) | set(wavs)):
            ls, ws = lines.get(spk, []), sorted(wavs.get(spk, []))
            for (emo, where, _no), w in zip(ls, ws, strict=False):
                if emo not in LABEL_MAP:
                    b.reject(w, Reason.LABEL_UNKNOWN, f"{where}: emotion {emo!r}")
                    continue
                gender = {"Teacher": "F", "FStudent": "F", "MStudent": "M"}[spk]
                b.add(w, score_vector(LABEL_MAP[emo]), speaker=spk, gender=gender, language="ja", source_label=emo)
            for w in ws[len(ls):]:
                b.reject(w, Reason.LABEL_MISSING, f"{subset.name}: more {spk} wavs than transcript lines")
            for _emo, where, _no in ls[len(ws):]:
                b.reject(subset / "wav" / f"<{where}>", Reason.AUDIO_MISSING,
                         f"{subset.name}: transcript line {where} of {spk} has no wav")
    b.reject_unclaimed(all_audio, "not below a subset with a txt/ folder")
    return b.finish()
