"""Building the model a training run starts from: random, pretrained Whisper, or initial weights
from a released checkpoint or one of our exports (``ModelConfig.init_from``)."""

from __future__ import annotations

from collections.abc import Mapping

from ser_pipeline.model.config import ModelConfig
from ser_pipeline.model.emotion_model import EmotionModel
from ser_pipeline.model.encoder import build_encoder, fit_to_window, freeze_front_end, should_freeze
from ser_pipeline.model.export import load_model
from ser_pipeline.seeding import seed_everything


def build_model(cfg: ModelConfig, window_s: float, n_domains: int = 0) -> EmotionModel:
    """The model for windows of ``window_s`` seconds with fresh heads, or — with ``cfg.init_from`` —
    the encoder and emotion head of that release file or export folder (positions cut to the
    window; a fresh domain head of ``n_domains`` outputs).

    Raises:
        ValueError: both ``pretrained_dir`` and ``init_from``; an ``init_from`` that is not an
            8-class emotion model; a window or mel size the weights cannot serve (naming both).
    """
    if not cfg.init_from:
        return EmotionModel(build_encoder(cfg, window_s), n_domains=n_domains, freeze=should_freeze(cfg),
                            normalize_waveform=cfg.normalize_waveform)
    if cfg.pretrained_dir:
        raise ValueError(f"model.pretrained_dir ({cfg.pretrained_dir}) and model.init_from ({cfg.init_from}) "
                         "both name initial weights: set one")
    source, meta = load_model(cfg.init_from)
    if meta.get("task", "emotion") != "emotion":
        raise ValueError(f"model.init_from {cfg.init_from} is a {meta['task']} model, not an emotion model")
    encoder = fit_to_window(source.encoder, cfg, window_s, source=str(cfg.init_from))
    model = EmotionModel(encoder, n_domains=n_domains, freeze=False,
                         normalize_waveform=cfg.normalize_waveform or source.normalize_waveform)
    model.head = source.head
    for p in model.parameters():
        p.requires_grad_(True)  # load_model returns an eval copy; training decides what stays frozen
    if should_freeze(cfg):
        freeze_front_end(model.encoder)
    return model.train()


def seeded_model(cfg: ModelConfig, window_s: float, seed: int, n_domains: int = 0) -> EmotionModel:
    """Seed the global generators, then :func:`build_model`: the initial weights of a run."""
    seed_everything(seed)
    return build_model(cfg, window_s, n_domains)


def initial_model(train_config: Mapping, n_domains: int = 0) -> EmotionModel:
    """The model a training run started from, rebuilt from its exported ``train_config`` (same
    seed, same build). Paper Table 2's "Random F1" is its encoder with a fresh head.

    Random initialisation is reproduced exactly; ``pretrained_dir`` / ``init_from`` weights are
    read again from their files.

    Raises:
        ValueError: a ``train_config`` without the model, window or seed.
    """
    try:
        cfg, window_s, seed = ModelConfig(**train_config["model"]), float(train_config["window_s"]), \
            int(train_config["seed"])
    except (KeyError, TypeError) as exc:
        raise ValueError(f"cannot rebuild the initial model from this train_config: {exc}") from None
    return seeded_model(cfg, window_s, seed, n_domains).eval()
