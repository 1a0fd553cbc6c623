"""MASC, the Mandarin Affective Speech Corpus (Mandarin; zero-shot evaluation set).

68 speakers (23 F, 45 M) recorded at Zhejiang University in 2005, 5 states, PCM 22,050 Hz.
LDC2007S09 (LDC agreement).

Layout (corpora.md: the exact tree is unconfirmed; SER Evals takes the label from the wav's
grandparent directory)::

    masc/
      data/<speaker>/<state>/<item>.wav        e.g. data/010/anger/010_anger_s03_2.wav

Assumptions, so the reader is tolerant: the state is the nearest ancestor folder named after one
of the five states (neutral, anger, elation, panic, sadness); the speaker is the nearest ancestor
folder that is not a state and not ``data``/``MASC``; gender unknown.
"""

from __future__ import annotations

from pathlib import Path

from ser_pipeline.corpora.base import CorpusSpec, CorpusTables, Reason, ScanSettings, TableBuilder, require_root, walk_audio
from ser_pipeline.emotions import score_vector

LABEL_MAP: dict[str, dict[str, float]] = {
    "neutral": {"neutral": 1.0}, "anger": {"anger": 1.0}, "elation": {"happiness": 1.0},
    "panic": {"fear": 1.0}, "sadness": {"sadness": 1.0},
}
_NOT_SPEAKER = {"data", "masc", "wav", "wave"}

SPEC = CorpusSpec(
    name="masc", title="MASC", role="zero_shot", languages=("zh",),
    layout="data/<speaker>/<state>/*.wav (state = nearest ancestor named neutral|anger|elation|panic|sadness)",
    soft_label_source="state directory name (one-hot)", label_map=LABEL_MAP, sample_rates_hz=(22050,),
    assumptions="tree speaker/state unconfirmed: state = nearest state-named ancestor, speaker = nearest other one",
)


def read(root: Path, *, scan: ScanSettings | None = None) -> CorpusTables:
    """Read MASC from ``root``."""
    root = require_root(root, SPEC.name)
    b = TableBuilder(SPEC, root, scan)
    for path in walk_audio(root):
        parts = [p.lower() for p in path.relative_to(root).parts[:-1]]
        states = [p for p in parts if p in LABEL_MAP]
        if not states:
            b.reject(path, Reason.LABEL_MISSING, "no ancestor folder names an emotional state")
            continue
        state = states[-1]
        speakers = [p for p in path.relative_to(root).parts[:-1] if p.lower() not in LABEL_MAP | dict.fromkeys(_NOT_SPEAKER)]
        b.add(path, score_vector(LABEL_MAP[state]), speaker=speakers[-1] if speakers else None, language="zh",
              source_label=state)
    return b.finish()
