"""JL-Corpus (New Zealand English; train).

Four actors (female1, female2, male1, male2) read 15 sentence pairs in 5 primary and 5 secondary
emotions, two sessions each: 2,400 files, 60 per speaker and emotion, 44.1 kHz 16-bit mono.
James, Tian & Watson, Interspeech 2018 (please cite). Kaggle ``tli725/jl-corpus``; licence
unconfirmed.

Layout as distributed (folder names contain spaces and parentheses)::

    jl_corpus/
      README.md  Corpus Setup.docx  Recording Context.docx  Picture Stimuli/
      Raw JL corpus (unchecked and unannotated)/
        Format_Intro.txt
        JL(wav+txt)/
          female1_angry_10a_1.wav
          female1_angry_10a_1.txt      transcript of the clip (not needed for the label)

"unchecked and unannotated" is part of the folder name, not a subset flag. Every ``.wav`` under
the root is read; the label comes from the name only.

File name ``female1_angry_10a_1.wav`` -> gender female, speaker "female1", emotion "angry",
sentence "10a", session "1":

    ============  ========  ===============================================
    field         name      values
    ============  ========  ===============================================
    1             speaker   female1 female2 male1 male2 (gender = prefix)
    2             emotion   angry sad neutral happy excited (primary);
                            anxious apologetic assertive concerned encouraging
    3             sentence  1a ... 15b
    4             session   1 2
    ============  ========  ===============================================

Labels (docs/labels.md): excited -> happiness 1; anxious -> fear 1; concerned -> fear 0.5;
apologetic -> sadness 0.5; encouraging -> happiness 0.5; assertive -> other 1.
Assumptions (unconfirmed): channels probed; a name that does not parse is rejected as malformed.
"""

from __future__ import annotations

import re
from pathlib import Path

from ser_pipeline.corpora.base import (
    CorpusSpec, CorpusTables, Reason, ScanSettings, TableBuilder, lookup_label, require_root, walk_audio,
)
from ser_pipeline.emotions import COMMON_WORDS, score_vector

LABEL_MAP: dict[str, dict[str, float]] = {
    "angry": COMMON_WORDS["angry"],
    "sad": COMMON_WORDS["sad"],
    "neutral": COMMON_WORDS["neutral"],
    "happy": COMMON_WORDS["happy"],
    "excited": {"happiness": 1.0},
    "anxious": {"fear": 1.0},
    "apologetic": {"sadness": 0.5},
    "assertive": {"other": 1.0},
    "concerned": {"fear": 0.5},
    "encouraging": {"happiness": 0.5},
}

SPEC = CorpusSpec(
    name="jl_corpus",
    title="JL-Corpus",
    role="train",
    languages=("en",),
    layout="Raw JL corpus (unchecked and unannotated)/JL(wav+txt)/<gender><n>_<emotion>_<sentence>_<session>.wav",
    soft_label_source="acted emotion word in the file name (weight row of docs/labels.md)",
    label_map=LABEL_MAP,
    sample_rates_hz=(44100,),
    assumptions="every .wav under the root is read (not only JL(wav+txt)/); gender from the "
                "female/male prefix",
    code_version="1",
)

# "female1_angry_10a_1" -> ("female", "1", "angry", "10a", "1")
_NAME = re.compile(r"^(female|male)(\d+)_([A-Za-z]+)_(\d+[a-z])_(\d+)$")


def read(root: Path, *, scan: ScanSettings | None = None) -> CorpusTables:
    """Read JL-Corpus from ``root`` (the folder holding ``Raw JL corpus (...)``)."""
    root = require_root(root, SPEC.name)
    b = TableBuilder(SPEC, root, scan)
    audio = walk_audio(root)
    for path, m in b.named_files(audio, _NAME, "<gender><n>_<emotion>_<sentence>_<session>.wav"):
        gender, num, emo, _sentence, _session = m.groups()
        row = lookup_label(LABEL_MAP, emo)
        if row is None:
            b.reject(path, Reason.LABEL_UNKNOWN, f"emotion word {emo!r} in {path.name}")
            continue
        b.add(path, score_vector(row), speaker=f"{gender}{num}", gender="F" if gender == "female" else "M",
              language="en", source_label=emo)
    b.reject_unclaimed(audio)
    return b.finish()
