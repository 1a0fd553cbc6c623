"""Deterministic generator of demo/test corpora in each corpus's real distribution layout.

``synth_corpus(name, out)`` writes corpus ``name`` under ``out`` exactly as it is distributed
(directory tree, file names, label files, sample rates), with speech from
:mod:`ser_pipeline.synth.voice`. One module per corpus in ``synth/layouts/``, each with
``write(out: Path, *, seed: int, speakers: int | None, per_class: int) -> None``.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from ser_pipeline.corpora import REGISTRY


def synth_corpus(name: str, out: str | Path, *, seed: int = 0, speakers: int | None = None,
                 per_class: int = 4) -> Path:
    """Write a synthetic ``name`` corpus into ``out`` (created); returns ``out``.

    Args:
        speakers: number of speakers (None = the layout's default, usually small).
        per_class: utterances per emotion class and speaker (layouts document their unit).
    """
    if name not in REGISTRY:
        raise KeyError(f"unknown corpus {name!r}; known: {', '.join(REGISTRY)}")
    mod = importlib.import_module(f"ser_pipeline.synth.layouts.{name}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    mod.write(out, seed=seed, speakers=speakers, per_class=per_class)
    return out
