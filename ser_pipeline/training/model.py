"""Whisper encoder with per-frame heads (paper §2.5).

The encoder's conv1/conv2 (the 2× down-sampling front end) and positional embeddings are
frozen; a single linear emotion head (and, when domains are given, a linear domain head) is
applied to every encoder frame (50 Hz: 1 frame = 320 samples = 20 ms).
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import WhisperConfig, WhisperModel
from transformers.models.whisper.modeling_whisper import WhisperEncoder

from ser_pipeline.emotions import N_CLASSES
from ser_pipeline.training.config import ModelConfig


def whisper_config(cfg: ModelConfig, window_s: float) -> WhisperConfig:
    """A random-init WhisperConfig with ``window_s`` seconds of context (50 encoder frames/s)."""
    return WhisperConfig(
        d_model=cfg.d_model,
        encoder_layers=cfg.encoder_layers,
        encoder_attention_heads=cfg.encoder_attention_heads,
        encoder_ffn_dim=cfg.encoder_ffn_dim,
        decoder_layers=1, decoder_attention_heads=cfg.encoder_attention_heads,
        decoder_ffn_dim=cfg.encoder_ffn_dim,
        num_mel_bins=cfg.num_mel_bins,
        max_source_positions=int(round(window_s * 50)),
        vocab_size=64, pad_token_id=0, bos_token_id=1, eos_token_id=2, decoder_start_token_id=1,
        max_target_positions=8, dropout=cfg.dropout,
    )


def build_encoder(cfg: ModelConfig, window_s: float) -> WhisperEncoder:
    """The encoder: from a local ``save_pretrained`` folder, or random from the dimensions.

    A folder saved from the whole WhisperModel is loaded as ``WhisperModel`` and its encoder
    taken (``WhisperEncoder.from_pretrained`` on such a folder silently random-initialises).
    """
    if cfg.pretrained_dir:
        model, info = WhisperModel.from_pretrained(cfg.pretrained_dir, output_loading_info=True)
        missing = [k for k in info.get("missing_keys", []) if k.startswith("encoder.")]
        if missing:
            raise ValueError(f"{cfg.pretrained_dir}: encoder weights missing from the checkpoint: {missing[:10]}")
        return model.get_encoder()
    return WhisperEncoder(whisper_config(cfg, window_s))


class EmotionModel(nn.Module):
    """Whisper encoder + linear heads applied per frame.

    ``logit_scaling`` is a learnable scalar multiplying the emotion logits (part of the paper's
    released checkpoint format).
    """

    def __init__(self, encoder: WhisperEncoder, n_classes: int = N_CLASSES, n_domains: int = 0,
                 freeze: bool = True):
        super().__init__()
        self.encoder = encoder
        d = encoder.config.d_model
        self.head = nn.Linear(d, n_classes)
        self.domain_head = nn.Linear(d, n_domains) if n_domains > 0 else None
        self.logit_scaling = nn.Parameter(torch.ones(1))
        if freeze:
            freeze_front_end(encoder)

    @property
    def n_frames(self) -> int:
        """Encoder frames per window (max_source_positions)."""
        return int(self.encoder.config.max_source_positions)

    def forward(self, input_features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, n_mels, 2·n_frames) log-mel -> (emotion logits (B, n_frames, C), hidden (B, n_frames, d))."""
        hidden = self.encoder(input_features).last_hidden_state
        return self.head(hidden) * self.logit_scaling, hidden

    def reset_head(self, seed: int) -> None:
        """Re-initialise the emotion head with a seeded generator (the random-head baseline)."""
        g = torch.Generator().manual_seed(seed)
        bound = 1.0 / self.head.in_features ** 0.5
        with torch.no_grad():
            self.head.weight.copy_(torch.empty_like(self.head.weight).uniform_(-bound, bound, generator=g))
            self.head.bias.copy_(torch.empty_like(self.head.bias).uniform_(-bound, bound, generator=g))
            self.logit_scaling.fill_(1.0)


def should_freeze(cfg: ModelConfig) -> bool:
    """Resolve ``freeze_front_end``: "auto" freezes exactly when pretrained weights are loaded."""
    if cfg.freeze_front_end == "auto":
        return bool(cfg.pretrained_dir or cfg.released_checkpoint)
    if isinstance(cfg.freeze_front_end, str):
        raise ValueError(f"model.freeze_front_end must be auto, true or false, not {cfg.freeze_front_end!r}")
    return bool(cfg.freeze_front_end)


def freeze_front_end(encoder: WhisperEncoder) -> None:
    """Freeze conv1, conv2 and the positional embeddings (paper §2.5: convs frozen)."""
    for module in (encoder.conv1, encoder.conv2, encoder.embed_positions):
        for p in module.parameters():
            p.requires_grad_(False)


def valid_frames(n_samples: int, n_frames: int) -> int:
    """Encoder frames that hold audio for a clip of ``n_samples`` at 16 kHz (320 samples/frame)."""
    return max(1, min(n_frames, -(-n_samples // 320)))
