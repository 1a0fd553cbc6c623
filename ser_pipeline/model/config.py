"""The encoder's configuration: where its weights come from, or its dimensions for random init."""

from __future__ import annotations

import dataclasses

from transformers import WhisperConfig

from ser_pipeline.audio import FRAME_RATE


@dataclasses.dataclass
class ModelConfig:
    """The Whisper encoder. ``pretrained_dir`` (a local ``save_pretrained`` folder) wins over the
    random-init dimensions below; nothing is ever fetched from a hub."""

    pretrained_dir: str | None = None  # local folder of WhisperModel.save_pretrained (e.g. whisper-medium)
    d_model: int = 64  # tiny demo default; whisper-medium = 1024
    encoder_layers: int = 2  # whisper-medium = 24
    encoder_attention_heads: int = 2  # whisper-medium = 16
    encoder_ffn_dim: int = 256  # whisper-medium = 4096
    # mel bins of the log-mel front end; None = the weights' own (pretrained) or 80 (random init).
    # A value that differs from pretrained weights is refused at build time.
    num_mel_bins: int | None = None
    dropout: float = 0.0
    # Paper §2.5 freezes the convs of a *pretrained* Whisper. A frozen *random* conv front end
    # drowns the audio under the positional embeddings (measured: a tiny encoder does not learn),
    # so "auto" freezes when weights are loaded and trains the convs when randomly initialised.
    freeze_front_end: str = "auto"  # auto | true | false (YAML booleans are accepted too)
    # initial weights: a released checkpoint (v1 .pt / v2 .ckpt) or one of our export folders; its
    # encoder (positions cut to the window) and emotion head are taken, the domain head is fresh
    init_from: str | None = None
    # zero-mean unit-variance waveform before the log-mel (the release's do_normalize=True);
    # always on for a model initialised from a release
    normalize_waveform: bool = False


def encoder_frames(window_s: float) -> int:
    """Encoder frames (50 Hz) in a window of ``window_s`` seconds; refuses a window that is not a
    whole number of 20 ms frames (the mel front end would not line up with the positions)."""
    n = window_s * FRAME_RATE
    if abs(n - round(n)) > 1e-6 or round(n) < 1:
        raise ValueError(f"window_s must be a positive multiple of 0.02 s (one 50 Hz frame), found {window_s}")
    return int(round(n))


def whisper_config(cfg: ModelConfig, window_s: float) -> WhisperConfig:
    """A random-init WhisperConfig with ``window_s`` seconds of context (50 encoder frames/s)."""
    return WhisperConfig(
        d_model=cfg.d_model,
        encoder_layers=cfg.encoder_layers,
        encoder_attention_heads=cfg.encoder_attention_heads,
        encoder_ffn_dim=cfg.encoder_ffn_dim,
        decoder_layers=1, decoder_attention_heads=cfg.encoder_attention_heads,
        decoder_ffn_dim=cfg.encoder_ffn_dim,
        num_mel_bins=cfg.num_mel_bins or 80,
        max_source_positions=encoder_frames(window_s),
        vocab_size=64, pad_token_id=0, bos_token_id=1, eos_token_id=2, decoder_start_token_id=1,
        max_target_positions=8, dropout=cfg.dropout,
    )
