"""Tiny synthetic training data shared by the training tests (no audio files, no hub)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ser_pipeline.emotions import SOFT_COLUMNS
from ser_pipeline.training.config import TrainConfig

DOMAINS = ["a|s1|en", "a|s2|en", "b|s3|de"]


def tiny_table(n: int = 24, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    soft = rng.dirichlet(np.ones(8), size=n)
    df = pd.DataFrame(soft, columns=list(SOFT_COLUMNS))
    df["duration_s"] = rng.uniform(0.2, 1.2, n).round(3)
    df["domain"] = [DOMAINS[i % 3] for i in range(n)]
    df["utterance_id"] = [f"x/{i}" for i in range(n)]
    return df


class ToneWaves:
    """Row -> a tone whose pitch follows the row's top class (picklable for DataLoader workers)."""

    def __init__(self, table: pd.DataFrame):
        self.dur = table["duration_s"].to_numpy()
        self.top = table[list(SOFT_COLUMNS)].to_numpy().argmax(1)

    def __call__(self, i: int) -> np.ndarray:
        t = np.arange(int(self.dur[i] * 16000)) / 16000
        return (0.3 * np.sin(2 * np.pi * (150 + 60 * self.top[i]) * t)).astype(np.float32)


def tiny_config(**kw) -> TrainConfig:
    base = dict(window_s=2.0, epochs=2, batch_size=2, lr=3e-3, log_every=1000, seed=0, device="cpu",
                accumulation={0: 1, 1: 2}, augment={"p": 0.5}, specaugment={"time_width": 10, "freq_width": 8},
                model={"d_model": 16, "encoder_layers": 1, "encoder_attention_heads": 2, "encoder_ffn_dim": 32})
    base.update(kw)
    return TrainConfig.from_dict(base)
