"""Training configuration: one dataclass, grouped, each value with its meaning and unit."""

from __future__ import annotations

import dataclasses
import difflib
import json
from pathlib import Path
from typing import Any

import yaml

from ser_pipeline.model.config import ModelConfig, encoder_frames
from ser_pipeline.storage import location, read_bytes

__all__ = ["ModelConfig", "TrainConfig", "load_config_file"]


@dataclasses.dataclass
class TrainConfig:
    """Everything a training run needs besides the data tables."""

    # --- data: Algorithm 1 packing (paper §2.4) and augmentation (§2.3)
    window_s: float = 30.0  # model context L in seconds (Whisper: 30 s = 1,500 frames at 50 Hz)
    fill: float = 0.8  # a window is closed once it holds >= fill·L
    augment: dict = dataclasses.field(default_factory=dict)  # AugmentConfig fields; {"enabled": false} = off
    specaugment: dict = dataclasses.field(default_factory=dict)  # SpecAugmentConfig fields
    # --- model
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    # --- optimisation
    epochs: int = 3
    batch_size: int = 8  # windows per micro-batch
    lr: float = 3e-4  # peak learning rate
    weight_decay: float = 0.01
    grad_clip: float = 1.0  # max global grad norm (0 = off)
    pct_start: float = 0.1  # one-cycle cosine: fraction of optimizer steps spent warming up
    accumulation: dict = dataclasses.field(default_factory=lambda: {0: 1})  # epoch -> micro-batches per step
    # --- losses (paper §2.6)
    emotion_loss: str = "clip"  # clip: CE of span-mean logits | frame: per-frame masked CE
    domain_loss: str = "grl"  # grl: gradient reversal | paper: L = CE_emo - w_d·CE_dom | off
    domain_weight: float = 0.01  # w_d
    # --- speed
    amp: str = "auto"  # auto (bf16 on CUDA, off on CPU) | bf16 | fp16 | off
    grad_checkpointing: bool = False  # recompute encoder activations in backward (less memory, ~1/3 more compute)
    compile: bool = False  # torch.compile the encoder (faster steps on a GPU after a compile of minutes)
    # --- checkpoints
    checkpoint_every: int = 0  # optimizer steps between checkpoints (0 = epoch end only)
    keep_checkpoints: int = 3  # newest checkpoint files kept
    resume: bool = False  # continue from the newest valid checkpoint in out_dir/checkpoints
    # --- system
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    num_workers: int = 0  # DataLoader workers (decode + augmentation + packing)
    prefetch_factor: int = 4  # batches each worker prepares ahead
    persistent_workers: bool = True  # keep DataLoader workers alive across epochs
    log_every: int = 10  # optimizer steps between loss/lr reports

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Build from a (possibly partial) dict; unknown keys raise ``ValueError`` naming them."""
        d = dict(d)
        model = d.pop("model", {}) or {}
        _refuse_unknown(d, cls, "training config")
        _refuse_unknown(model, ModelConfig, "model config")
        cfg = cls(**d, model=ModelConfig(**model))
        cfg.validate()
        return cfg

    def validate(self) -> None:
        """Refuse out-of-range values with a message naming the field."""
        if self.window_s < 1.0:
            raise ValueError(f"window_s must be >= 1 s, found {self.window_s}")
        encoder_frames(self.window_s)  # a whole number of 50 Hz frames
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, found {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, found {self.batch_size}")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, found {self.lr}")
        if not 0 < self.fill <= 1:
            raise ValueError(f"fill must be in (0, 1], found {self.fill}")
        choices = {"emotion_loss": ("clip", "frame"), "domain_loss": ("grl", "paper", "off"),
                   "amp": ("auto", "bf16", "fp16", "off")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, found {getattr(self, name)!r}")
        if self.domain_weight < 0:
            raise ValueError(f"domain_weight must be >= 0, found {self.domain_weight}")
        # fail early on bad nested values (these raise ValueError naming the field)
        from ser_pipeline.audio.augment import AugmentConfig
        from ser_pipeline.audio.specaugment import SpecAugmentConfig
        from ser_pipeline.training.schedule import AccumulationSchedule

        AccumulationSchedule(self.accumulation)
        AugmentConfig.from_dict(self.augment)
        SpecAugmentConfig(**self.specaugment).validate()


def _refuse_unknown(d: dict[str, Any], cls: type, what: str) -> None:
    """``ValueError`` naming each unknown key, with the closest known field as a suggestion."""
    known = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(d) - set(known))
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, known, n=1)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise ValueError(f"unknown {what} field {', '.join(hints)}; known: {', '.join(sorted(known))}")


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON file (a path or a URL) into a dict."""
    text = read_bytes(location(path, "--config")).decode()
    return json.loads(text) if str(path).endswith(".json") else (yaml.safe_load(text) or {})
