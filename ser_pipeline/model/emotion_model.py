"""Whisper encoder with per-frame heads (paper §2.5).

The encoder's conv1/conv2 (the 2× down-sampling front end) and positional embeddings are
frozen; a single linear emotion head (and, when domains are given, a linear domain head) is
applied to every encoder frame (50 Hz: 1 frame = 320 samples = 20 ms).

The model owns its window (``window_s`` = positions / 50) and its mel size (``n_mels``): every
caller turns waveforms into features through :meth:`EmotionModel.features`, never with numbers
carried beside the model.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from transformers.models.whisper.modeling_whisper import WhisperEncoder

from ser_pipeline.audio import FRAME_RATE, SAMPLES_PER_FRAME
from ser_pipeline.audio.features import log_mel
from ser_pipeline.emotions import N_CLASSES
from ser_pipeline.model.encoder import freeze_front_end


class EmotionModel(nn.Module):
    """Whisper encoder + linear heads applied per frame.

    ``normalize_waveform``: each waveform is scaled to zero mean and unit variance before the
    log-mel (the released models' preprocessing); it travels in the export's metadata.
    """

    def __init__(self, encoder: WhisperEncoder, n_classes: int = N_CLASSES, n_domains: int = 0,
                 freeze: bool = True, normalize_waveform: bool = False):
        super().__init__()
        self.encoder = encoder
        d = encoder.config.d_model
        self.head = nn.Linear(d, n_classes)
        self.domain_head = nn.Linear(d, n_domains) if n_domains > 0 else None
        self.normalize_waveform = bool(normalize_waveform)
        if freeze:
            freeze_front_end(encoder)

    @property
    def n_frames(self) -> int:
        """Encoder frames per window (the encoder's positions, 50 per second)."""
        return int(self.encoder.config.max_source_positions)

    @property
    def window_s(self) -> float:
        """The model's context in seconds (``n_frames / 50``)."""
        return self.n_frames / FRAME_RATE

    @property
    def n_mels(self) -> int:
        """Mel bins of the log-mel front end (80, or 128 for large-v3 weights)."""
        return int(self.encoder.config.num_mel_bins)

    @property
    def device(self) -> torch.device:
        return self.head.weight.device

    def features(self, waves: Sequence[np.ndarray] | np.ndarray) -> torch.Tensor:
        """16 kHz waveforms, each padded/cropped to the window -> log-mel (B, n_mels, 2·n_frames)
        on the model's device."""
        return log_mel(waves, window_s=self.window_s, n_mels=self.n_mels, device=self.device,
                       normalize=self.normalize_waveform)

    def forward(self, input_features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, n_mels, 2·n_frames) log-mel -> (emotion logits (B, n_frames, C), hidden (B, n_frames, d))."""
        hidden = self.encoder(input_features).last_hidden_state
        return self.head(hidden), hidden

    @torch.no_grad()
    def frame_logits(self, waves: Sequence[np.ndarray] | np.ndarray) -> torch.Tensor:
        """Head outputs of every frame of each waveform's window: (B, n_frames, C) float32."""
        return self(self.features(waves))[0].float()

    def reset_head(self, seed: int) -> None:
        """Re-initialise the emotion head with a seeded generator (the random-head baseline)."""
        g = torch.Generator().manual_seed(seed)
        bound = 1.0 / self.head.in_features ** 0.5
        with torch.no_grad():
            self.head.weight.copy_(torch.empty_like(self.head.weight).uniform_(-bound, bound, generator=g))
            self.head.bias.copy_(torch.empty_like(self.head.bias).uniform_(-bound, bound, generator=g))

    def replace_head(self, n_outputs: int, seed: int) -> EmotionModel:
        """Drop the emotion and domain heads; a fresh seeded ``Linear(d_model, n_outputs)`` head
        on the model's device (the Hume fine-tune's regression head)."""
        torch.manual_seed(seed)
        self.head = nn.Linear(self.encoder.config.d_model, n_outputs).to(self.device)
        self.domain_head = None
        return self


def valid_frames(n_samples: int, n_frames: int) -> int:
    """Encoder frames that hold audio for a clip of ``n_samples`` at 16 kHz (320 samples/frame),
    at least 1 and at most the window's ``n_frames``."""
    return max(1, min(n_frames, -(-n_samples // SAMPLES_PER_FRAME)))


def span_mean_logits(frame_logits: torch.Tensor, spans: torch.Tensor) -> torch.Tensor:
    """Mean of the frame logits over each span.

    Args:
        frame_logits: (B, T, C) per-frame logits.
        spans: int (K, 3) rows ``(batch, start, end)``, frames ``start <= f < end``, end > start.

    Returns:
        float32 (K, C). Computed with a prefix sum in fp32 (O(B·T·C), no loop over clips).
    """
    cs = F.pad(frame_logits.float().cumsum(1), (0, 0, 1, 0))  # (B, T+1, C), cs[:, f] = sum of frames < f
    bi, s, e = spans[:, 0].long(), spans[:, 1].long(), spans[:, 2].long()
    return (cs[bi, e] - cs[bi, s]) / (e - s).clamp(min=1).to(cs.dtype)[:, None]
