"""Domain keys for the adversarial head (paper §2.1: dataset + speaker + language)."""

from __future__ import annotations

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
    """Domain key of every row of a manifest (columns corpus, speaker, language)."""
    return pd.Series(
        [domain_key(c, s, lang) for c, s, lang in zip(df["corpus"], df["speaker"], df["language"], strict=True)],
        index=df.index, dtype="string",
    )


def domain_vocabulary(keys: pd.Series) -> list[str]:
    """The sorted unique keys (sorted so ids are stable across runs)."""
    return sorted(set(keys.astype(str)))
