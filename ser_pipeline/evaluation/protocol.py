"""The paper's evaluation protocol (§3): one clip padded to the window, mean logits over its frames."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ser_pipeline.audio.features import log_mel
from ser_pipeline.training.data import ClipDataset, collate_clips
from ser_pipeline.training.model import EmotionModel, valid_frames


@torch.no_grad()
def clip_embeddings(model: EmotionModel, table: pd.DataFrame, corpus_roots: Mapping[str, str | Path], *,
                    window_s: float, batch_size: int = 16, device: str | torch.device = "cpu",
                    valid_only: bool = True, cache=None) -> np.ndarray:
    """Per-clip mean encoder output: each clip alone, padded to ``window_s``, the hidden states
    averaged over the clip's valid frames (``valid_only``) or over all frames.

    The heads are linear, so the mean of a head's frame logits equals the head applied to this
    mean (:func:`head_logits`): one encoder pass serves the trained and the random head.

    ``cache``: an optional :class:`ser_pipeline.audio.cache.AudioCache` to read clips from.

    Returns:
        float32 array (N, d_model) aligned with ``table``'s rows.
    """
    model.eval()
    ds = ClipDataset(table, corpus_roots, max_seconds=window_s, cache=cache)
    loader = torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=False, collate_fn=collate_clips)
    out = np.zeros((len(ds), model.encoder.config.d_model), dtype=np.float32)
    for waves, _soft, _dom, idx in loader:
        feats = log_mel(waves, window_s=window_s, n_mels=model.encoder.config.num_mel_bins, device=device)
        hidden = model.encoder(feats).last_hidden_state
        for j, w in enumerate(waves):
            n = valid_frames(len(w), model.n_frames) if valid_only else model.n_frames
            out[int(idx[j])] = hidden[j, :n].float().mean(dim=0).cpu().numpy()
    return out


@torch.no_grad()
def head_logits(model: EmotionModel, embeddings: np.ndarray) -> np.ndarray:
    """The model's emotion head on per-clip embeddings: (N, d_model) -> (N, 8) float32."""
    h = torch.as_tensor(embeddings, dtype=torch.float32, device=model.head.weight.device)
    return (model.head(h) * model.logit_scaling).float().cpu().numpy()


def clip_logits(model: EmotionModel, table: pd.DataFrame, corpus_roots: Mapping[str, str | Path], *,
                window_s: float, batch_size: int = 16, device: str | torch.device = "cpu",
                valid_only: bool = True, cache=None) -> np.ndarray:
    """Per-clip emotion logits (paper §3): each clip alone, padded to ``window_s``, logits averaged
    over the clip's valid frames (``valid_only``) or over all frames.

    Returns:
        float32 array (N, 8) aligned with ``table``'s rows.
    """
    return head_logits(model, clip_embeddings(model, table, corpus_roots, window_s=window_s,
                                              batch_size=batch_size, device=device, valid_only=valid_only,
                                              cache=cache))


@torch.no_grad()
def packed_clip_logits(model: EmotionModel, table: pd.DataFrame, corpus_roots: Mapping[str, str | Path], *,
                       window_s: float, fill: float = 0.8, seed: int = 0, batch_size: int = 8,
                       device: str | torch.device = "cpu", cache=None) -> np.ndarray:
    """Per-clip logits with each clip placed inside packed context, as in training (Algorithm 1):
    clips are packed into windows of ``window_s`` and each clip's logits are averaged over its own
    span. Comparing with :func:`clip_logits` measures the train/test mismatch.

    Returns:
        float32 array (N, 8) aligned with ``table``'s rows.
    """
    from ser_pipeline.training.losses import span_mean_logits
    from ser_pipeline.training.packing import assemble_window, pack_windows

    model.eval()
    table = table.reset_index(drop=True)
    ds = ClipDataset(table, corpus_roots, max_seconds=window_s, cache=cache)
    out = np.zeros((len(table), model.head.out_features), dtype=np.float32)
    windows = pack_windows(table["duration_s"].to_numpy(), window_s=window_s, fill=fill, seed=seed)
    rng = np.random.default_rng(seed)
    for i in range(0, len(windows), batch_size):
        group = windows[i: i + batch_size]
        packed = [assemble_window([ds.wave(r) for r in rows], np.zeros((len(rows), 8)), np.zeros(len(rows)),
                                  window_s=window_s, rng=rng) for rows in group]
        feats = log_mel([p.audio for p in packed], window_s=window_s, n_mels=model.encoder.config.num_mel_bins,
                        device=device)
        logits, _ = model(feats)
        spans, owners = [], []
        for b, (p, rows) in enumerate(zip(packed, group, strict=True)):
            for (s, e), k in zip(p.spans, np.asarray(rows)[p.kept], strict=True):
                spans.append((b, int(s), int(e)))
                owners.append(int(k))
        clip = span_mean_logits(logits, torch.tensor(spans, dtype=torch.int64, device=logits.device))
        out[owners] = clip.float().cpu().numpy()
    return out
