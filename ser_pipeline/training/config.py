"""Training configuration: one dataclass, grouped, each value with its meaning and unit."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import yaml


@dataclasses.dataclass
class ModelConfig:
    """The Whisper encoder. ``pretrained_dir`` (a local ``save_pretrained`` folder) wins over the
    random-init dimensions below; nothing is ever fetched from a hub."""

    pretrained_dir: str | None = None  # local folder of WhisperModel.save_pretrained (e.g. whisper-medium)
    d_model: int = 64  # tiny demo default; whisper-medium = 1024
    encoder_layers: int = 2  # whisper-medium = 24
    encoder_attention_heads: int = 2  # whisper-medium = 16
    encoder_ffn_dim: int = 256  # whisper-medium = 4096
    num_mel_bins: int = 80
    dropout: float = 0.0
    # Paper §2.5 freezes the convs of a *pretrained* Whisper. A frozen *random* conv front end
    # drowns the audio under the positional embeddings (measured: a tiny encoder does not learn),
    # so "auto" freezes when weights are loaded and trains the convs when randomly initialised.
    freeze_front_end: bool | str = "auto"  # auto | true | false
    released_checkpoint: str | None = None  # a released state_dict (encoder.*, head.*, logit_scaling)


@dataclasses.dataclass
class TrainConfig:
    """Everything a training run needs besides the data tables."""

    # --- data
    window_s: float = 30.0  # model context L in seconds (Whisper: 30 s = 1,500 frames at 50 Hz)
    # --- model
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    # --- optimisation
    epochs: int = 3
    batch_size: int = 8  # windows per micro-batch
    lr: float = 3e-4  # peak learning rate
    weight_decay: float = 0.01
    grad_clip: float = 1.0  # max global grad norm (0 = off)
    # --- system
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    num_workers: int = 0  # DataLoader workers
    log_every: int = 10  # optimizer steps between loss/lr reports

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Build from a (possibly partial) dict; unknown keys raise ``ValueError`` naming them."""
        d = dict(d)
        model = d.pop("model", {}) or {}
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown training config field(s) {unknown}; known: {sorted(known)}")
        mknown = {f.name for f in dataclasses.fields(ModelConfig)}
        munknown = sorted(set(model) - mknown)
        if munknown:
            raise ValueError(f"unknown model config field(s) {munknown}; known: {sorted(mknown)}")
        cfg = cls(**d, model=ModelConfig(**model))
        cfg.validate()
        return cfg

    def validate(self) -> None:
        """Refuse out-of-range values with a message naming the field."""
        if self.window_s < 1.0:
            raise ValueError(f"window_s must be >= 1 s, found {self.window_s}")
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, found {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, found {self.batch_size}")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, found {self.lr}")


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON file into a dict."""
    text = Path(path).read_text()
    return json.loads(text) if str(path).endswith(".json") else (yaml.safe_load(text) or {})
