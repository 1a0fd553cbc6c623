"""Waveform augmentation (paper §2.3): determinism, each transform alone, spans after packing."""

from __future__ import annotations

import numpy as np
import pytest

from ser_pipeline.audio.augment import TRANSFORMS, AugmentConfig, Echo, WaveformAugmenter
from ser_pipeline.audio.packing import assemble_window

SR = 16000


def _tone(seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    rng = np.random.default_rng(seed)
    return (0.3 * np.sin(2 * np.pi * 220 * t) + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


def _only(name: str, **kw) -> WaveformAugmenter:
    probs = {n: (1.0 if n == name else 0.0) for n in TRANSFORMS}
    return WaveformAugmenter(AugmentConfig(probabilities=probs, **kw))


def test_deterministic_per_seed_and_leaves_global_rng_alone():
    aug = WaveformAugmenter(AugmentConfig(p=0.5))
    x = _tone()
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    a, b = aug(x, seed=7), aug(x, seed=7)
    assert np.array_equal(a, b)
    assert np.array_equal(np.random.get_state()[1], before)
    assert any(not np.array_equal(aug(x, seed=s), a) for s in range(8, 12))


def test_disabled_is_identity():
    x = _tone()
    assert np.array_equal(WaveformAugmenter(AugmentConfig(enabled=False, p=1.0))(x, seed=0), x)


def test_default_probability_is_paper_20_percent():
    cfg = AugmentConfig()
    assert all(cfg.prob(n) == 0.2 for n in TRANSFORMS)
    with pytest.raises(ValueError, match="unknown augmentation"):
        AugmentConfig(probabilities={"flanger": 1.0}).validate()


@pytest.mark.parametrize("name", TRANSFORMS)
def test_each_transform_alone_keeps_spans_valid(name):
    aug = _only(name)
    x = [_tone(1.3, seed=1), _tone(2.0, seed=2), _tone(0.7, seed=3)]
    y = [aug(w, seed=10 + i) for i, w in enumerate(x)]
    assert name in aug.applied()
    for w, v in zip(x, y, strict=True):
        assert v.dtype == np.float32 and np.isfinite(v).all()
        if name == "resample":  # the only length change: rate 13.6-18.4 kHz read back at 16 kHz
            assert 0.84 * len(w) <= len(v) <= 1.16 * len(w)
        else:
            assert len(v) == len(w)
    soft = np.eye(8, dtype=np.float32)[:3]
    win = assemble_window(y, soft, np.arange(3), window_s=5.0, rng=np.random.default_rng(0))
    ends = np.cumsum([-(-len(v) // 320) for v in y])
    assert win.spans[:, 1].tolist() == ends.tolist()  # spans measured after augmentation
    assert win.frame_mask.sum() == ends[-1] and not win.frame_mask[ends[-1]:].any()
    for k, (a, b) in enumerate(win.spans):
        assert (win.targets[a:b].argmax(1) == k).all()


def test_polarity_reverse_roll_are_what_they_say():
    x = _tone(0.5)
    assert np.array_equal(_only("polarity")(x, 0), -x)
    assert np.array_equal(_only("reverse")(x, 0), x[::-1])
    rolled = _only("roll")(x, 0)
    shift = int(np.argmax([np.array_equal(np.roll(x, s), rolled) for s in range(-len(x) // 2, len(x) // 2 + 1)]))
    assert np.array_equal(np.roll(x, shift - len(x) // 2), rolled)


def test_echo_adds_a_delayed_copy():
    x = np.zeros(1600, np.float32)
    x[0] = 1.0
    e = Echo(min_delay_s=0.01, max_delay_s=0.01, min_decay=0.5, max_decay=0.5, p=1.0)
    y = e(x, SR)
    assert y[0] == 1.0 and y[160] == pytest.approx(0.5) and y[320] == pytest.approx(0.25)
    assert len(y) == len(x)
    with pytest.raises(ValueError, match="decay"):
        Echo(min_decay=0.5, max_decay=1.5)


# --- SpecAugment on the log-mel


def test_specaugment_masks_only_valid_frames_and_is_seeded():
    import torch

    from ser_pipeline.audio.specaugment import SpecAugmentConfig, spec_augment

    x = torch.randn(3, 80, 300)
    mask = torch.zeros(3, 300, dtype=torch.bool)
    mask[:, :200] = True
    cfg = SpecAugmentConfig(freq_masks=2, freq_width=10, time_masks=2, time_width=30, noise_std=0.1)
    a = spec_augment(x, cfg, torch.Generator().manual_seed(0), mask)
    b = spec_augment(x, cfg, torch.Generator().manual_seed(0), mask)
    assert torch.equal(a, b) and a.shape == x.shape
    assert torch.equal(a[:, :, 200:], x[:, :, 200:])  # padding untouched
    assert not torch.equal(a[:, :, :200], x[:, :, :200])
    quiet = SpecAugmentConfig(freq_masks=0, time_masks=1, time_width=30, noise_std=0.0)
    c = spec_augment(x, quiet, torch.Generator().manual_seed(1), mask)
    changed = (c != x).any(1)  # (B, T) frames hit by the time mask
    assert changed.sum(1).le(30).all() and not changed[:, 200:].any()
    assert torch.equal(spec_augment(x, SpecAugmentConfig(enabled=False), torch.Generator(), mask), x)
