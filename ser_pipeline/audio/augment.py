"""Waveform augmentation (paper §2.3), applied per clip before packing.

Polarity inversion, gain, audio reversal, noise addition (SNR-based), resampling, equalization
and echo, each with an independent probability (paper: 20 %), then the "roll" of SpecAugment done
at waveform level (a circular shift of the clip). audiomentations supplies every transform but
echo, which is :class:`Echo` below (a delay-and-add in the same interface).

Resampling changes the clip's length (a clip resampled from 16 kHz to 14.4 kHz and read back at
16 kHz is 10 % shorter and higher pitched), so spans must be measured on the augmented waveform;
every other transform keeps the length.

audiomentations draws from the global ``random`` and ``numpy.random`` states. The augmenter seeds
both from the call's ``seed`` and restores them afterwards, so a clip's augmentation is a pure
function of ``(wave, seed)`` and the caller's random streams are untouched.
"""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import numpy as np
from audiomentations import (AddGaussianSNR, Compose, Gain, PolarityInversion, Resample, Reverse,
                             SevenBandParametricEQ, Shift)
from audiomentations.core.transforms_interface import BaseWaveformTransform

from ser_pipeline.audio import SAMPLE_RATE

#: Transform names, in the order they are applied (resample last but one: it changes length).
TRANSFORMS = ("polarity", "gain", "reverse", "noise", "eq", "echo", "resample", "roll")


@dataclasses.dataclass
class AugmentConfig:
    """Waveform augmentation parameters. The paper (§2.3) fixes only p = 0.2 per transform;
    the ranges below are this project's choices."""

    enabled: bool = True  # False in evaluation: the augmenter returns the clip unchanged
    p: float = 0.2  # independent probability of each transform (paper §2.3)
    probabilities: dict[str, float] = dataclasses.field(default_factory=dict)  # per-name override of p
    gain_db: tuple[float, float] = (-6.0, 6.0)  # dB
    noise_snr_db: tuple[float, float] = (10.0, 40.0)  # dB, Gaussian noise relative to the clip
    resample_hz: tuple[int, int] = (13600, 18400)  # Hz target rate, read back at 16 kHz: length ×0.85..1.15
    eq_gain_db: tuple[float, float] = (-6.0, 6.0)  # dB per band of the 7-band parametric EQ
    echo_delay_s: tuple[float, float] = (0.05, 0.30)  # seconds between taps
    echo_decay: tuple[float, float] = (0.2, 0.6)  # gain of the first echo (then decay², decay³)
    roll_fraction: float = 0.5  # max circular shift, as a fraction of the clip, either way

    def prob(self, name: str) -> float:
        """The probability of transform ``name`` (an override or ``p``)."""
        return float(self.probabilities.get(name, self.p))

    def validate(self) -> None:
        unknown = sorted(set(self.probabilities) - set(TRANSFORMS))
        if unknown:
            raise ValueError(f"unknown augmentation name(s) {unknown}; known: {list(TRANSFORMS)}")
        for name in TRANSFORMS:
            if not 0.0 <= self.prob(name) <= 1.0:
                raise ValueError(f"probability of {name} must be in [0, 1], found {self.prob(name)}")
        for field in ("gain_db", "noise_snr_db", "resample_hz", "eq_gain_db", "echo_delay_s", "echo_decay"):
            lo, hi = getattr(self, field)
            if lo > hi:
                raise ValueError(f"{field}: min {lo} > max {hi}")

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> AugmentConfig:
        d = dict(d or {})
        for k, v in list(d.items()):
            if isinstance(v, list):
                d[k] = tuple(v)
        cfg = cls(**d)
        cfg.validate()
        return cfg


class Echo(BaseWaveformTransform):
    """Delay-and-add echo: ``y[n] = x[n] + a·x[n-D] + a²·x[n-2D] + a³·x[n-3D]``, same length.

    Args:
        min_delay_s, max_delay_s (float): range of the delay D in seconds.
        min_decay, max_decay (float): range of the first echo's gain a, in (0, 1).
        p (float): probability of applying. (Default: 0.5, like audiomentations.)

    The output is rescaled to the input's peak if the echoes raised it (no new clipping).
    """

    supports_multichannel = False

    def __init__(self, min_delay_s: float = 0.05, max_delay_s: float = 0.3, min_decay: float = 0.2,
                 max_decay: float = 0.6, n_taps: int = 3, p: float = 0.5):
        super().__init__(p)
        if not 0 < min_delay_s <= max_delay_s:
            raise ValueError(f"need 0 < min_delay_s <= max_delay_s, found {min_delay_s}, {max_delay_s}")
        if not 0 < min_decay <= max_decay < 1:
            raise ValueError(f"need 0 < min_decay <= max_decay < 1, found {min_decay}, {max_decay}")
        self.min_delay_s, self.max_delay_s = min_delay_s, max_delay_s
        self.min_decay, self.max_decay = min_decay, max_decay
        self.n_taps = n_taps

    def randomize_parameters(self, samples: np.ndarray, sample_rate: int) -> None:
        super().randomize_parameters(samples, sample_rate)
        if self.parameters["should_apply"]:
            self.parameters["delay_samples"] = max(1, int(random.uniform(self.min_delay_s, self.max_delay_s)
                                                          * sample_rate))
            self.parameters["decay"] = random.uniform(self.min_decay, self.max_decay)

    def apply(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        delay, decay = self.parameters["delay_samples"], self.parameters["decay"]
        out = samples.astype(np.float32, copy=True)
        for tap in range(1, self.n_taps + 1):
            shift = tap * delay
            if shift >= len(samples):
                break
            out[shift:] += (decay**tap) * samples[: len(samples) - shift]
        peak_in, peak_out = float(np.abs(samples).max()), float(np.abs(out).max())
        if peak_out > peak_in > 0:
            out *= peak_in / peak_out
        return out


class WaveformAugmenter:
    """Per-clip waveform augmentation (paper §2.3) as a pure function of ``(wave, seed)``.

    Args:
        cfg (AugmentConfig): parameters; ``cfg.enabled = False`` makes this the identity.
        sample_rate (int): Hz. (Default: 16000.)

    Example:
        >>> aug = WaveformAugmenter(AugmentConfig())
        >>> y = aug(np.zeros(16000, np.float32), seed=3)   # float32 (samples',)
    """

    def __init__(self, cfg: AugmentConfig, sample_rate: int = SAMPLE_RATE):
        cfg.validate()
        self.cfg, self.sample_rate = cfg, sample_rate
        c = cfg
        self.transforms = {
            "polarity": PolarityInversion(p=c.prob("polarity")),
            "gain": Gain(min_gain_db=c.gain_db[0], max_gain_db=c.gain_db[1], p=c.prob("gain")),
            "reverse": Reverse(p=c.prob("reverse")),
            "noise": AddGaussianSNR(min_snr_db=c.noise_snr_db[0], max_snr_db=c.noise_snr_db[1], p=c.prob("noise")),
            "eq": SevenBandParametricEQ(min_gain_db=c.eq_gain_db[0], max_gain_db=c.eq_gain_db[1], p=c.prob("eq")),
            "echo": Echo(c.echo_delay_s[0], c.echo_delay_s[1], c.echo_decay[0], c.echo_decay[1], p=c.prob("echo")),
            "resample": Resample(min_sample_rate=c.resample_hz[0], max_sample_rate=c.resample_hz[1],
                                 p=c.prob("resample")),
            # SpecAugment's roll, done on the waveform (paper §2.3); no fade: a roll, not a shift
            "roll": Shift(min_shift=-c.roll_fraction, max_shift=c.roll_fraction, shift_unit="fraction",
                          rollover=True, fade_duration=0.0, p=c.prob("roll")),
        }
        self.compose = Compose([self.transforms[n] for n in TRANSFORMS], p=1.0, shuffle=False)

    def __call__(self, wave: np.ndarray, seed: int) -> np.ndarray:
        """float32 (samples,) at 16 kHz -> float32 (samples',); samples' differs only if resampled."""
        wave = np.asarray(wave, dtype=np.float32)
        if not self.cfg.enabled or len(wave) < 2:
            return wave
        py_state, np_state = random.getstate(), np.random.get_state()
        try:
            random.seed(seed)
            np.random.seed(seed % 2**32)
            out = self.compose(samples=wave, sample_rate=self.sample_rate)
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)
        return np.ascontiguousarray(out, dtype=np.float32)

    def applied(self) -> list[str]:
        """Names of the transforms applied by the last call (for tests and logging)."""
        return [n for n, t in self.transforms.items() if t.parameters.get("should_apply")]
