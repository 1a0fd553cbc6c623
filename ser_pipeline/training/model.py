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


class TrainingModel(nn.Module):
    """What the training loop runs (and DDP wraps): emotion logits and domain logits per frame.

    The domain head sees the encoder output through a gradient reversal of scale ``w_d`` in
    "grl" mode (paper §2.6; see :mod:`ser_pipeline.training.losses`), directly in "paper" mode.
    Keeping both heads inside one ``forward`` lets DDP see every parameter's use.
    """

    def __init__(self, model: EmotionModel, domain_mode: str = "grl", w_d: float = 0.01):
        super().__init__()
        self.model, self.domain_mode, self.w_d = model, domain_mode, w_d

    def forward(self, input_features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(B, n_mels, 2·T) -> (emotion logits (B, T, 8), domain logits (B, T, n_domains) or None)."""
        from ser_pipeline.training.losses import grad_reverse

        logits, hidden = self.model(input_features)
        head = self.model.domain_head
        if head is None or self.domain_mode == "off":
            return logits, None
        feats = grad_reverse(hidden, self.w_d) if self.domain_mode == "grl" else hidden
        return logits, head(feats)


def load_released(model: EmotionModel, path: str) -> None:
    """Load a released checkpoint: a plain state_dict with ``encoder.*``, ``head.weight``,
    ``head.bias`` and ``logit_scaling`` (the paper's published format), with weights_only=True.

    The domain head is not part of a release and keeps its fresh initialisation.

    Raises:
        ValueError: naming missing/unexpected keys or mismatched shapes.
    """
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    own = model.state_dict()
    bad = [f"{k}: {tuple(v.shape)} vs model {tuple(own[k].shape)}" for k, v in state.items()
           if k in own and own[k].shape != v.shape]
    if bad:
        raise ValueError(f"{path}: shapes differ from the model: {bad[:5]}")
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith("domain_head.")]
    if missing or unexpected:
        raise ValueError(f"{path}: not a released checkpoint for this model: missing {missing[:5]}, "
                         f"unexpected {unexpected[:5]}")


def enable_gradient_checkpointing(model: EmotionModel) -> None:
    """Recompute the encoder layers' activations in backward (transformers' non-reentrant mode)."""
    enc = model.encoder
    # transformers 5 renamed the method; the old name warns that it goes away in v6
    if hasattr(enc, "activation_checkpointing_enable"):
        enc.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    else:
        enc.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
