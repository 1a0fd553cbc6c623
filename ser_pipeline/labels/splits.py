"""Train / validation / test / zero-shot assignment and the training class prior (paper §2.1)."""

from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np
import pandas as pd

from ser_pipeline.emotions import SOFT_COLUMNS
from ser_pipeline.labels.domains import domain_vocabulary

SplitBy = Literal["utterance", "speaker"]
TEST_SPLIT = "test"
TRAIN, VALIDATION, ZERO_SHOT = "train", "validation", "zero_shot"
IEMOCAP_TEST_SESSION = "Session4"  # paper §2.1: IEMOCAP's fourth session is the test set


def assign_splits(df: pd.DataFrame, roles: dict[str, str], *, validation_fraction: float = 0.05,
                  seed: int = 0, by: SplitBy = "utterance", train_corpora: list[str] | None = None) -> pd.Series:
    """The ``split`` of every row: train, validation, test, zero_shot or finetune.

    * corpora with role ``zero_shot`` -> ``zero_shot``; role ``finetune`` -> ``finetune``;
    * IEMOCAP rows with ``official_split == "Session4"`` -> ``test``;
    * the rest: a seeded random ``validation_fraction`` -> ``validation`` (by utterance, the
      paper, or by speaker for a speaker-disjoint split), the others -> ``train``.

    Args:
        df: a table with corpus, speaker, official_split, utterance_id.
        roles: corpus name -> role (train | test | zero_shot | finetune | user).
        train_corpora: restrict training to these corpora (None = every corpus with role train);
            the other train-role corpora get split ``unused``. Naming a zero-shot, test or
            fine-tune corpus here is refused.
    Returns:
        a string Series aligned with ``df.index``.
    """
    if not 0.0 <= validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be in [0, 1), found {validation_fraction}")
    split = pd.Series(TRAIN, index=df.index, dtype="object")
    role = df["corpus"].map(roles)
    if role.isna().any():
        missing = sorted(df.loc[role.isna(), "corpus"].unique())
        raise KeyError(f"no role for corpora {missing}")
    if train_corpora:
        wrong = sorted(c for c in train_corpora if roles.get(c, "train") not in ("train", "user"))
        if wrong:
            raise ValueError(f"train_corpora: {wrong} are {[roles[c] for c in wrong]} corpora and must never "
                             "enter training (docs/labels.md: zero-shot and test sets are held out)")
        split[(role == "train") & ~df["corpus"].isin(list(train_corpora))] = "unused"
    split[role == "zero_shot"] = ZERO_SHOT
    split[role == "finetune"] = "finetune"
    split[role == "test"] = TEST_SPLIT
    is_test = (df["corpus"] == "iemocap") & (df["official_split"] == IEMOCAP_TEST_SESSION)
    split[is_test] = TEST_SPLIT
    pool = split == TRAIN
    rng = np.random.default_rng(seed)
    if by == "utterance":
        ids = np.sort(df.loc[pool, "utterance_id"].to_numpy())  # sorted: independent of row order
        n_val = int(round(validation_fraction * len(ids)))
        chosen = set(rng.choice(ids, size=n_val, replace=False)) if n_val else set()
        split[pool & df["utterance_id"].isin(chosen)] = VALIDATION
    elif by == "speaker":
        speakers = np.sort(df.loc[pool, "speaker"].unique())
        n_val = max(1, int(round(validation_fraction * len(speakers)))) if validation_fraction > 0 else 0
        chosen = set(rng.choice(speakers, size=min(n_val, len(speakers)), replace=False)) if n_val else set()
        split[pool & df["speaker"].isin(chosen)] = VALIDATION
    else:
        raise ValueError(f"split by must be 'utterance' or 'speaker', not {by!r}")
    return split.astype("string")


def class_prior(df: pd.DataFrame) -> np.ndarray:
    """Mean soft label over the rows of ``df`` (the training split): shape (8,), sums to 1."""
    if df.empty:
        raise ValueError("cannot compute a class prior from an empty training split")
    prior = df[list(SOFT_COLUMNS)].to_numpy(dtype=np.float64).mean(axis=0)
    return prior / prior.sum()


class TrainingMeta(NamedTuple):
    """What training needs from a splits table beyond its rows."""

    domain_vocab: list[str]  # sorted domain keys of the training split (domain ids are positions)
    prior: np.ndarray  # shape (8,), the training split's mean soft label, sums to 1


def training_meta(splits: pd.DataFrame) -> TrainingMeta:
    """The domain vocabulary and class prior of the ``train`` rows of a splits table.

    Derived from the table itself (columns ``split``, ``domain``, ``soft_*``), so whoever holds the
    table (the ``splits`` asset, ``emotion_model``, ``python -m ser_pipeline.training``) gets the
    same values, with no side file to keep in step. Raises ``ValueError`` for an empty training split.
    """
    train = splits[splits["split"] == TRAIN]
    if train.empty:
        raise ValueError("the training split is empty: no corpus with role 'train' has rows")
    return TrainingMeta(domain_vocabulary(train["domain"]), class_prior(train))
