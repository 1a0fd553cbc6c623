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
def clip_logits(model: EmotionModel, table: pd.DataFrame, corpus_roots: Mapping[str, str | Path], *,
                window_s: float, batch_size: int = 16, device: str | torch.device = "cpu",
                valid_only: bool = True) -> np.ndarray:
    """Per-clip emotion logits: each clip alone, padded to ``window_s``, logits averaged over the
    clip's valid frames (``valid_only``) or over all frames.

    Returns:
        float32 array (N, 8) aligned with ``table``'s rows.
    """
    model.eval()
    ds = ClipDataset(table, corpus_roots, max_seconds=window_s)
    loader = torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=False, collate_fn=collate_clips)
    out = np.zeros((len(ds), model.head.out_features), dtype=np.float32)
    for waves, _soft, _dom, idx in loader:
        feats = log_mel(waves, window_s=window_s, n_mels=model.encoder.config.num_mel_bins, device=device)
        logits, _ = model(feats)
        for j, w in enumerate(waves):
            n = valid_frames(len(w), model.n_frames) if valid_only else model.n_frames
            out[int(idx[j])] = logits[j, :n].float().mean(dim=0).cpu().numpy()
    return out
