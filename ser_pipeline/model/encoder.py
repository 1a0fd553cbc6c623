"""Building the Whisper encoder: random from dimensions, or from local ``save_pretrained`` weights.

Paper §2.5 fine-tunes Whisper-medium's encoder on 30 s windows. A pretrained encoder used with a
shorter window keeps the first ``window_s·50`` of its positional embeddings (our deviation, which
makes CPU fine-tuning practical: self-attention cost grows with the square of the window); a
window longer than the weights' positions is refused.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import WhisperModel
from transformers.models.whisper.modeling_whisper import WhisperEncoder

from ser_pipeline.model.config import ModelConfig, encoder_frames, whisper_config


def build_encoder(cfg: ModelConfig, window_s: float) -> WhisperEncoder:
    """The encoder for windows of ``window_s`` seconds (``window_s·50`` positions).

    From ``cfg.pretrained_dir``: a folder saved from the whole ``WhisperModel`` is loaded as such
    and its encoder taken (``WhisperEncoder.from_pretrained`` on such a folder silently
    random-initialises). Otherwise random from ``cfg``'s dimensions.

    Raises:
        ValueError: encoder weights missing from the folder, a window longer than the weights'
            positions, or ``cfg.num_mel_bins`` differing from the weights' mel bins (naming both).
    """
    if not cfg.pretrained_dir:
        return WhisperEncoder(whisper_config(cfg, window_s))
    model, info = WhisperModel.from_pretrained(cfg.pretrained_dir, output_loading_info=True)
    missing = [k for k in info.get("missing_keys", []) if k.startswith("encoder.")]
    if missing:
        raise ValueError(f"{cfg.pretrained_dir}: encoder weights missing from the checkpoint: {missing[:10]}")
    return fit_to_window(model.get_encoder(), cfg, window_s, source=cfg.pretrained_dir)


def fit_to_window(encoder: WhisperEncoder, cfg: ModelConfig, window_s: float, *, source: str) -> WhisperEncoder:
    """Loaded weights for windows of ``window_s``: refused when they cannot serve it
    (:func:`check_against_encoder`), their first ``window_s·50`` positions kept when shorter."""
    check_against_encoder(cfg, window_s, encoder, source=source)
    if encoder_frames(window_s) < encoder.config.max_source_positions:
        truncate_positions(encoder, encoder_frames(window_s))
    return encoder


def check_against_encoder(cfg: ModelConfig, window_s: float, encoder: WhisperEncoder, *, source: str) -> None:
    """Refuse a config the encoder cannot run: more window frames than positions, other mel bins."""
    positions = int(encoder.config.max_source_positions)
    n_frames = encoder_frames(window_s)
    if n_frames > positions:
        raise ValueError(f"window_s {window_s} needs {n_frames} encoder positions but {source} has "
                         f"{positions} ({positions / 50:g} s): use window_s <= {positions / 50:g}")
    mels = int(encoder.config.num_mel_bins)
    if cfg.num_mel_bins is not None and cfg.num_mel_bins != mels:
        raise ValueError(f"model.num_mel_bins {cfg.num_mel_bins} differs from {source}'s {mels} mel bins: "
                         f"leave num_mel_bins unset to use the weights' own")


def truncate_positions(encoder: WhisperEncoder, n_frames: int) -> None:
    """Keep the first ``n_frames`` positional embeddings (a window shorter than the weights')."""
    old = encoder.embed_positions
    new = nn.Embedding(n_frames, old.embedding_dim)
    with torch.no_grad():
        new.weight.copy_(old.weight[:n_frames])
    new.weight.requires_grad_(old.weight.requires_grad)
    encoder.embed_positions = new
    encoder.max_source_positions = n_frames
    encoder.config.max_source_positions = n_frames


def should_freeze(cfg: ModelConfig) -> bool:
    """Resolve ``freeze_front_end``: "auto" freezes exactly when pretrained weights are loaded."""
    value = cfg.freeze_front_end
    if isinstance(value, bool):
        return value
    choices = {"auto": bool(cfg.pretrained_dir or cfg.init_from), "true": True, "false": False}
    if str(value).lower() not in choices:
        raise ValueError(f"model.freeze_front_end must be auto, true or false, not {value!r}")
    return choices[str(value).lower()]


def freeze_front_end(encoder: WhisperEncoder) -> None:
    """Freeze conv1, conv2 and the positional embeddings (paper §2.5: convs frozen)."""
    for module in (encoder.conv1, encoder.conv2, encoder.embed_positions):
        for p in module.parameters():
            p.requires_grad_(False)


def enable_gradient_checkpointing(encoder: WhisperEncoder) -> None:
    """Recompute the encoder layers' activations in backward (transformers' non-reentrant mode)."""
    # transformers 5 renamed the method; the old name warns that it goes away in v6
    if hasattr(encoder, "activation_checkpointing_enable"):
        encoder.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    else:
        encoder.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
