"""Running a model over the clips of a table (the paper's §3 protocol and its variants).

Each clip alone, padded to the model's window, its frame outputs averaged over the frames that
hold audio (:func:`valid_frames`); or each clip inside packed windows as in training.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ser_pipeline.audio.clips import ClipDataset, collate_clips
from ser_pipeline.audio.packing import assemble_window, pack_windows
from ser_pipeline.model.emotion_model import EmotionModel, span_mean_logits, valid_frames


@torch.no_grad()
def clip_embeddings(model: EmotionModel, table: pd.DataFrame, corpus_roots: Mapping[str, str | Path], *,
                    batch_size: int = 16, valid_only: bool = True, cache=None) -> np.ndarray:
    """Per-clip mean encoder output: each clip alone, padded to the model's window, the hidden
    states averaged over the clip's valid frames (``valid_only``) or over all frames.

    The heads are linear, so the mean of a head's frame logits equals the head applied to this
    mean (:func:`head_logits`): one encoder pass serves the trained and the random head.

    ``cache``: an optional :class:`ser_pipeline.audio.cache.AudioCache` to read clips from.

    Returns:
        float32 array (N, d_model) aligned with ``table``'s rows.
    """
    model.eval()
    ds = ClipDataset(table, corpus_roots, max_seconds=model.window_s, cache=cache)
    loader = torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=False, collate_fn=collate_clips)
    out = np.zeros((len(ds), model.encoder.config.d_model), dtype=np.float32)
    for waves, _soft, _dom, idx in loader:
        hidden = model.encoder(model.features(waves)).last_hidden_state
        for j, w in enumerate(waves):
            n = valid_frames(len(w), model.n_frames) if valid_only else model.n_frames
            out[int(idx[j])] = hidden[j, :n].float().mean(dim=0).cpu().numpy()
    return out


@torch.no_grad()
def head_logits(model: EmotionModel, embeddings: np.ndarray) -> np.ndarray:
    """The model's head on per-clip embeddings: (N, d_model) -> (N, C) float32."""
    h = torch.as_tensor(embeddings, dtype=torch.float32, device=model.device)
    return model.head(h).float().cpu().numpy()


def clip_logits(model: EmotionModel, table: pd.DataFrame, corpus_roots: Mapping[str, str | Path], *,
                batch_size: int = 16, valid_only: bool = True, cache=None) -> np.ndarray:
    """Per-clip head outputs (paper §3): each clip alone, padded to the model's window, logits
    averaged over the clip's valid frames (``valid_only``) or over all frames.

    Returns:
        float32 array (N, C) aligned with ``table``'s rows (C = 8 for an emotion model).
    """
    return head_logits(model, clip_embeddings(model, table, corpus_roots, batch_size=batch_size,
                                              valid_only=valid_only, cache=cache))


def clip_sigmoid(model: EmotionModel, table: pd.DataFrame, corpus_roots: Mapping[str, str | Path], *,
                 batch_size: int = 16, cache=None) -> np.ndarray:
    """Sigmoid of each clip's mean head output over its valid frames (a regression head in
    [0, 1], e.g. the Hume fine-tune): float32 (N, C)."""
    z = clip_logits(model, table, corpus_roots, batch_size=batch_size, cache=cache)
    return (1.0 / (1.0 + np.exp(-z.astype(np.float64)))).astype(np.float32)


@torch.no_grad()
def packed_clip_logits(model: EmotionModel, table: pd.DataFrame, corpus_roots: Mapping[str, str | Path], *,
                       fill: float = 0.8, seed: int = 0, batch_size: int = 8, cache=None) -> np.ndarray:
    """Per-clip logits with each clip placed inside packed context, as in training (Algorithm 1):
    clips are packed into windows of the model's length and each clip's logits are averaged over
    its own span. Comparing with :func:`clip_logits` measures the train/test mismatch.

    Returns:
        float32 array (N, C) aligned with ``table``'s rows.
    """
    model.eval()
    window_s = model.window_s
    table = table.reset_index(drop=True)
    ds = ClipDataset(table, corpus_roots, max_seconds=window_s, cache=cache)
    out = np.zeros((len(table), model.head.out_features), dtype=np.float32)
    windows = pack_windows(table["duration_s"].to_numpy(), window_s=window_s, fill=fill, seed=seed)
    rng = np.random.default_rng(seed)
    for i in range(0, len(windows), batch_size):
        group = windows[i: i + batch_size]
        packed = [assemble_window([ds.wave(r) for r in rows], np.zeros((len(rows), 8)), np.zeros(len(rows)),
                                  window_s=window_s, rng=rng) for rows in group]
        logits, _ = model(model.features([p.audio for p in packed]))
        spans, owners = [], []
        for b, (p, rows) in enumerate(zip(packed, group, strict=True)):
            for (s, e), k in zip(p.spans, np.asarray(rows)[p.kept], strict=True):
                spans.append((b, int(s), int(e)))
                owners.append(int(k))
        clip = span_mean_logits(logits, torch.tensor(spans, dtype=torch.int64, device=logits.device))
        out[owners] = clip.float().cpu().numpy()
    return out
