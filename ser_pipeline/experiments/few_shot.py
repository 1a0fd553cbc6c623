"""k-shot sets for the few-shot study (the paper's future work, issue 19.3).

Per evaluation set, the speakers are split once into *shot speakers* (who may give labelled
clips) and *test speakers* (whose clips are the test part), so no test speaker ever appears in a
k-shot set and every k is scored on the same test part (k = 0 included). Within the shot
speakers, each class's k clips are taken round-robin over speakers (one clip from each speaker
in a seeded order, then a second from each ...), so the shots spread over speakers rather than
coming from whoever recorded most.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from ser_pipeline.emotions import CLASSES, SOFT_COLUMNS


def shot_speakers(table: pd.DataFrame, *, fraction: float = 0.5, seed: int = 0) -> list[str]:
    """A seeded ``fraction`` of the set's speakers (at least one, leaving at least one for the
    test part). Raises ``ValueError`` for a set with fewer than two speakers."""
    speakers = np.sort(table["speaker"].astype(str).unique())
    if len(speakers) < 2:
        raise ValueError(f"few-shot needs >= 2 speakers (shot and test speakers are disjoint), found "
                         f"{len(speakers)}")
    if not 0 < fraction < 1:
        raise ValueError(f"shot speaker fraction must be in (0, 1), found {fraction}")
    n = min(max(1, int(round(fraction * len(speakers)))), len(speakers) - 1)
    return sorted(np.random.default_rng(seed).choice(speakers, size=n, replace=False).tolist())


def test_part(table: pd.DataFrame, shots: Iterable[str]) -> pd.DataFrame:
    """The rows of ``table`` whose speaker is not a shot speaker."""
    return table[~table["speaker"].astype(str).isin(set(shots))]


def select_k_shot(table: pd.DataFrame, k: int, shots: Iterable[str], *, seed: int = 0) -> pd.DataFrame:
    """Up to ``k`` rows per class (the argmax of ``soft_*``) from the shot speakers' rows,
    round-robin over speakers. A class with fewer than ``k`` clips gives all it has (the caller
    reports the actual counts: :func:`shots_per_class`). Rows keep the table's index."""
    if k < 0:
        raise ValueError(f"k must be >= 0, found {k}")
    pool = table[table["speaker"].astype(str).isin(set(shots))]
    if k == 0 or pool.empty:
        return pool.iloc[:0]
    rng = np.random.default_rng(seed)
    label = pool[list(SOFT_COLUMNS)].to_numpy().argmax(axis=1)
    chosen: list = []
    for c in np.unique(label):
        rows = pool[label == c]
        by_speaker = [list(rng.permutation(g.index.to_numpy())) for _, g in
                      sorted(rows.groupby(rows["speaker"].astype(str)), key=lambda kv: kv[0])]
        by_speaker = [by_speaker[i] for i in rng.permutation(len(by_speaker))]
        taken = 0
        while taken < k and any(by_speaker):
            for ids in by_speaker:
                if ids and taken < k:
                    chosen.append(ids.pop(0))
                    taken += 1
    return table.loc[chosen]


def shots_per_class(k_shot: pd.DataFrame) -> dict[str, int]:
    """Clips per class (argmax of ``soft_*``) in a k-shot set."""
    label = k_shot[list(SOFT_COLUMNS)].to_numpy().argmax(axis=1) if len(k_shot) else np.array([], int)
    return {c: int((label == i).sum()) for i, c in enumerate(CLASSES) if (label == i).any()}
