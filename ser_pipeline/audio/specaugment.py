"""SpecAugment on the Whisper log-mel (paper §2.3, after Park et al. 2019): frequency masks,
time masks and additive Gaussian noise. The "roll" is done on the waveform instead
(:mod:`ser_pipeline.audio.augment`).

Time masks and noise touch only valid frames when a mask is given, so the padding of a packed
window stays exactly what evaluation sees. Masked bins are set to the item's mean over its valid
frames (Whisper's log-mel is not zero-mean, so 0 would be a loud constant).
"""

from __future__ import annotations

import dataclasses

import torch


@dataclasses.dataclass
class SpecAugmentConfig:
    """SpecAugment parameters (mel frames are 100 Hz: 1 frame = 160 samples = 10 ms)."""

    enabled: bool = True  # False in evaluation: identity
    freq_masks: int = 2  # number of frequency masks per item
    freq_width: int = 16  # max mel bins per frequency mask (of 80)
    time_masks: int = 2  # number of time masks per item
    time_width: int = 40  # max mel frames per time mask (0.4 s)
    noise_std: float = 0.02  # std of additive Gaussian noise (log-mel is roughly in [-1, 1])
    p: float = 1.0  # probability that an item is augmented at all

    def validate(self) -> None:
        for f in ("freq_masks", "freq_width", "time_masks", "time_width"):
            if getattr(self, f) < 0:
                raise ValueError(f"{f} must be >= 0, found {getattr(self, f)}")
        if self.noise_std < 0 or not 0 <= self.p <= 1:
            raise ValueError(f"need noise_std >= 0 and p in [0, 1], found {self.noise_std}, {self.p}")


def _band(n: int, length: torch.Tensor, max_width: int, size: int, g: torch.Generator) -> torch.Tensor:
    """(B, size) bool: ``n`` random bands per item, each of width <= max_width inside [0, length)."""
    b = length.shape[0]
    out = torch.zeros(b, size, dtype=torch.bool)
    pos = torch.arange(size)
    for _ in range(n):
        width = torch.randint(0, max_width + 1, (b,), generator=g).minimum(length)
        start = (torch.rand(b, generator=g) * (length - width + 1)).long()
        out |= (pos >= start[:, None]) & (pos < (start + width)[:, None])
    return out


def spec_augment(logmel: torch.Tensor, cfg: SpecAugmentConfig, generator: torch.Generator,
                 mask: torch.Tensor | None = None) -> torch.Tensor:
    """Apply SpecAugment to a batch of log-mels.

    Args:
        logmel: float (B, n_mels, T) log-mel, T mel frames at 100 Hz.
        cfg: parameters; ``enabled = False`` returns ``logmel`` unchanged.
        generator: a CPU ``torch.Generator`` (the draws are made on CPU, then moved to the device).
        mask: optional bool (B, T), True on valid frames (a packed window's padding is False).

    Returns:
        float (B, n_mels, T), a new tensor; padding frames are unchanged.
    """
    if not cfg.enabled:
        return logmel
    b, n_mels, t = logmel.shape
    dev = logmel.device
    valid = torch.ones(b, t, dtype=torch.bool) if mask is None else mask.detach().to("cpu", torch.bool)
    # masks are drawn over [0, n_valid): packed windows put the padding at the end
    n_valid = valid.sum(1)
    active = torch.rand(b, generator=generator) < cfg.p
    fmask = _band(cfg.freq_masks, torch.full((b,), n_mels), cfg.freq_width, n_mels, generator) & active[:, None]
    tmask = _band(cfg.time_masks, n_valid, cfg.time_width, t, generator) & valid & active[:, None]
    noise = torch.randn(b, n_mels, t, generator=generator) * cfg.noise_std
    noise = noise * (valid & active[:, None])[:, None, :]
    fmask, tmask, valid_d = fmask.to(dev), tmask.to(dev), valid.to(dev)
    # fill value: each item's mean over its valid frames
    fill = (logmel * valid_d[:, None, :]).sum((1, 2)) / (valid_d.sum(1) * n_mels).clamp(min=1)
    hit = (fmask[:, :, None] & valid_d[:, None, :]) | tmask[:, None, :]
    out = torch.where(hit, fill[:, None, None].to(logmel.dtype), logmel)
    return out + noise.to(dev, logmel.dtype)
