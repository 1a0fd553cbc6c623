"""Domain keys for the adversarial head (paper §2.1: dataset + speaker + language)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def domain_key(corpus: str, speaker: str | None, language: str) -> str:
    """``"{corpus}|{speaker}|{language}"``; unknown speakers -> ``"{corpus}|unknown|{language}"``.

    ``speaker`` may be corpus-qualified (``"ravdess/03"``); the qualifier is dropped here because
    the corpus is already the first field.
    """
    spk = (speaker or "").split("/", 1)[-1] if speaker else ""
    if not spk or spk == "unknown":
        spk = "unknown"
    return f"{corpus}|{spk}|{language}"


def domain_keys(df: pd.DataFrame) -> pd.Series:
    """Domain key of every row of a manifest (columns corpus, speaker, language).

    :func:`domain_key` runs once per distinct (corpus, speaker, language) and the keys are
    broadcast back by position, so a table of N rows with D domains costs O(N log N) integer work
    plus D string formats, not N (a 3-million-row table has a few thousand domains). Missing
    values reach :func:`domain_key` as ``None``.
    """
    factorized = [pd.factorize(df[col]) for col in ("corpus", "speaker", "language")]
    codes = np.stack([c for c, _ in factorized], axis=1)  # (N, 3), -1 = missing
    distinct, inverse = np.unique(codes, axis=0, return_inverse=True)
    uniques = [values for _, values in factorized]
    keys = np.array([domain_key(*(None if c < 0 else u[c] for u, c in zip(uniques, row, strict=True)))
                     for row in distinct], dtype=object)
    return pd.Series(keys[inverse.ravel()], index=df.index, dtype="string")


def domain_vocabulary(keys: pd.Series) -> list[str]:
    """The sorted unique keys (sorted so ids are stable across runs)."""
    return sorted(set(keys.astype(str)))
