"""Clip-level dataset: each item is one clip (16 kHz mono) with its soft label and domain id."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ser_pipeline.audio.io import load_clip, optional_seconds
from ser_pipeline.emotions import SOFT_COLUMNS
from ser_pipeline.storage import location


def clip_path(row: Mapping, corpus_roots: Mapping[str, str | Path]) -> Path:
    """Where a table row's audio is (tables store paths relative to the corpus root): a ``Path``,
    or a ``UPath`` when the corpus root is a URL."""
    corpus = row["corpus"]
    if corpus not in corpus_roots:
        raise KeyError(f"no root configured for corpus {corpus!r} (needed by {row['utterance_id']})")
    return location(corpus_roots[corpus], f"corpus root of {corpus}") / row["path"]


class ClipDataset(torch.utils.data.Dataset):
    """Rows of a split table -> (waveform float32 (samples,), soft label (8,), domain id, row index)."""

    def __init__(self, table: pd.DataFrame, corpus_roots: Mapping[str, str | Path],
                 domain_index: Mapping[str, int] | None = None, max_seconds: float | None = None,
                 cache=None):
        """``cache``: an :class:`ser_pipeline.audio.cache.AudioCache`; clips in it (with the
        row's own source) are read from its shards, the others decoded from the original files."""
        self.cache = cache
        self.rows = table.reset_index(drop=True).to_dict("records")
        self.roots = dict(corpus_roots)
        # tables without soft labels (e.g. Hume-Prosody's regression targets) get zeros here
        self.soft = (table[list(SOFT_COLUMNS)].to_numpy(dtype=np.float32) if set(SOFT_COLUMNS) <= set(table.columns)
                     else np.zeros((len(table), len(SOFT_COLUMNS)), dtype=np.float32))
        self.domains = np.array([(domain_index or {}).get(r.get("domain"), -1) for r in self.rows], dtype=np.int64)
        self.max_samples = int(max_seconds * 16000) if max_seconds else None

    def __len__(self) -> int:
        return len(self.rows)

    def wave(self, i: int) -> np.ndarray:
        r = self.rows[i]
        w = self.cache.clip(r) if self.cache is not None else None
        if w is None:  # not cached, or cached from another source: decode the file
            w = load_clip(clip_path(r, self.roots), optional_seconds(r.get("start_s")),
                          optional_seconds(r.get("end_s")), root=location(self.roots[r["corpus"]]))
        return w[: self.max_samples] if self.max_samples else w

    def __getitem__(self, i: int):
        return self.wave(i), self.soft[i], int(self.domains[i]), i


def collate_clips(items):
    """Batch of clips -> (list of waves, soft labels (B, 8), domain ids (B,), row indices (B,))."""
    waves, soft, dom, idx = zip(*items, strict=True)
    return list(waves), torch.from_numpy(np.stack(soft)), torch.tensor(dom), torch.tensor(idx)
