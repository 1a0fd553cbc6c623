"""Running a model over audio of any length: overlapping windows, frame logits averaged.

50 Hz: 1 frame = 320 samples = 20 ms; frame i covers [i·0.02, (i+1)·0.02) s.
"""

from __future__ import annotations

import numpy as np
import torch

from ser_pipeline.audio import FRAME_RATE, SAMPLE_RATE, SAMPLES_PER_FRAME
from ser_pipeline.model.emotion_model import EmotionModel, valid_frames


def window_starts(n_samples: int, window_samples: int, hop_samples: int) -> list[int]:
    """Start samples of the windows covering ``n_samples``: 0, hop, 2·hop, ... until one reaches the end."""
    starts = [0]
    while starts[-1] + window_samples < n_samples:
        starts.append(starts[-1] + hop_samples)
    return starts


def encoder_autocast(device: torch.device, fast: bool):
    """bf16 autocast for the encoder forward when ``fast``, else a no-op context.

    Only the forward pass runs under it: log-mel features stay fp32 and logits come back as fp32.
    bf16 keeps fp32's range with an 8-bit mantissa, so probabilities move (benchmarks/README.md,
    "Inference arms": ≤ 0.003 measured on random weights, 0.09 once); on a CPU with AMX-BF16 the
    base and medium encoders ran 1.5–1.8× faster, tiny not at all.
    """
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=fast)


@torch.no_grad()
def frame_logits_long(model: EmotionModel, wave: np.ndarray, *, hop_s: float | None = None,
                      batch_size: int = 4, fast: bool = False) -> np.ndarray:
    """Raw frame logits of a 16 kHz mono waveform of any length, (samples,) -> float32 (T, C).

    T = ⌈samples / 320⌉. Windows of the model's ``window_s`` start every ``hop_s`` (rounded to
    whole frames; default ``window_s / 2``); each frame's logits are the mean over the windows
    that contain it. ``fast``: the encoder runs under bf16 autocast (:func:`encoder_autocast`).
    """
    window_s = model.window_s
    n = len(wave)
    win = int(round(window_s * SAMPLE_RATE))
    hop_s = window_s / 2 if hop_s is None else hop_s
    hop = max(1, int(round(hop_s * FRAME_RATE))) * SAMPLES_PER_FRAME
    if hop > win:
        raise ValueError(f"hop_s ({hop_s}) must not exceed the window ({window_s} s): frames would be skipped")
    n_frames_total = max(1, -(-n // SAMPLES_PER_FRAME))
    acc = np.zeros((n_frames_total, model.head.out_features), dtype=np.float64)
    count = np.zeros(n_frames_total, dtype=np.int64)
    starts = window_starts(n, win, hop)
    model.eval()
    for b in range(0, len(starts), batch_size):
        chunk_starts = starts[b: b + batch_size]
        chunks = [wave[s: s + win] for s in chunk_starts]
        feats = model.features(chunks)
        with encoder_autocast(feats.device, fast):
            logits = model(feats)[0].float().cpu().numpy()  # (B, n_frames, C)
        for j, s in enumerate(chunk_starts):
            f0 = s // SAMPLES_PER_FRAME
            nv = min(valid_frames(len(chunks[j]), model.n_frames), n_frames_total - f0)
            acc[f0: f0 + nv] += logits[j, :nv]
            count[f0: f0 + nv] += 1
    return (acc / np.maximum(count, 1)[:, None]).astype(np.float32)
