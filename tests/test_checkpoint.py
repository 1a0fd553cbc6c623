"""Checkpoints: atomic save, weights_only load, corrupt/truncated files skipped, RNG round trip."""

from __future__ import annotations

import random

import numpy as np
import torch

from ser_pipeline.training.checkpoint import (capture_rng, latest_valid_checkpoint, list_checkpoints,
                                              load_checkpoint, restore_rng, save_checkpoint)


def _state(step: int) -> dict:
    m = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(m.parameters())
    m(torch.randn(4, 3)).sum().backward()
    opt.step()
    return {"model": m.state_dict(), "optimizer": opt.state_dict(), "step": step, "rng": capture_rng(),
            "config": {"lr": 1e-3, "accumulation": {0: 1, 2: 2}}, "classes": ["a", "b"]}


def test_round_trip_and_keep(tmp_path):
    for s in (10, 20, 30, 40):
        save_checkpoint(_state(s), tmp_path, s, keep=3)
    assert [int(p.stem.split("_")[1]) for p in list_checkpoints(tmp_path)] == [20, 30, 40]
    latest = latest_valid_checkpoint(tmp_path)
    ck = load_checkpoint(latest)
    assert ck["step"] == 40 and ck["config"]["accumulation"] == {0: 1, 2: 2}
    assert not list(tmp_path.glob(".*tmp*"))


def test_truncated_and_corrupt_fall_back(tmp_path):
    for s in (1, 2, 3):
        save_checkpoint(_state(s), tmp_path, s)
    paths = list_checkpoints(tmp_path)
    data = paths[2].read_bytes()
    paths[2].write_bytes(data[: len(data) // 2])  # killed mid-write (no atomic rename)
    assert load_checkpoint(latest_valid_checkpoint(tmp_path))["step"] == 2
    raw = bytearray(paths[1].read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # one flipped byte
    paths[1].write_bytes(bytes(raw))
    assert load_checkpoint(latest_valid_checkpoint(tmp_path))["step"] == 1
    paths[0].with_name(paths[0].name + ".sha256").unlink()  # digest never written
    assert latest_valid_checkpoint(tmp_path) is None


def test_rng_round_trip(tmp_path):
    state = capture_rng()
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    save_checkpoint({"rng": state}, tmp_path, 0)
    restore_rng(load_checkpoint(latest_valid_checkpoint(tmp_path))["rng"])
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == a
