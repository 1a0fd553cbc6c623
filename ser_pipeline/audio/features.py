"""Whisper-compatible log-mel features, computed in batches on the training device.

Uses transformers' ``WhisperFeatureExtractor`` torch path (``device=``): the same output as
Whisper's own preprocessing, so released checkpoints see what they were trained on.
"""

from __future__ import annotations

import numpy as np
import torch
from transformers import WhisperFeatureExtractor

from ser_pipeline.audio import SAMPLE_RATE

_EXTRACTORS: dict[int, WhisperFeatureExtractor] = {}


def feature_extractor(n_mels: int = 80) -> WhisperFeatureExtractor:
    """A cached extractor (80 mel bins for whisper-medium, 128 for large-v3)."""
    if n_mels not in _EXTRACTORS:
        _EXTRACTORS[n_mels] = WhisperFeatureExtractor(feature_size=n_mels, sampling_rate=SAMPLE_RATE)
    return _EXTRACTORS[n_mels]


def log_mel(waves: list[np.ndarray] | np.ndarray, *, window_s: float = 30.0, n_mels: int = 80,
            device: str | torch.device = "cpu", normalize: bool = False) -> torch.Tensor:
    """Log-mel of a batch of 16 kHz waveforms, each padded/cropped to ``window_s`` seconds.

    Args:
        waves: list of float32 arrays (samples,) or an array (B, samples).
        normalize: scale each cropped waveform to zero mean and unit variance before padding, as
            ``WhisperFeatureExtractor(do_normalize=True)`` does (the paper's released models).
    Returns:
        float32 tensor (B, n_mels, window_s·100) on ``device`` (100 mel frames per second).
    """
    n_samples = int(round(window_s * SAMPLE_RATE))
    batch = np.zeros((len(waves), n_samples), dtype=np.float32)
    for i, w in enumerate(waves):
        w = np.asarray(w, dtype=np.float32)[:n_samples]
        if normalize and len(w):
            w64 = w.astype(np.float64)
            w = ((w64 - w64.mean()) / np.sqrt(w64.var() + 1e-7)).astype(np.float32)
        batch[i, : len(w)] = w
    fe = feature_extractor(n_mels)
    dev = torch.device(device)
    feats = fe._torch_extract_fbank_features(batch, device=str(dev))
    return torch.as_tensor(feats, dtype=torch.float32, device=dev)
