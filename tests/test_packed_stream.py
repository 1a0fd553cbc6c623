"""The training stream through a DataLoader: workers (persistent or not) give the same batches."""

import numpy as np
import pytest
import torch

from ser_pipeline.training.packed_data import PackedWindowStream, window_loader


def _wave(row: int) -> np.ndarray:
    """Deterministic clip ``row``: 0.5-3.5 s at 16 kHz, its samples all equal to the row number."""
    return np.full(8000 + 16000 * (row % 4) - 37 * row, float(row), dtype=np.float32)


def _stream() -> PackedWindowStream:
    n = 60
    durations = np.array([len(_wave(r)) / 16000 for r in range(n)])
    soft = np.eye(8, dtype=np.float32)[np.arange(n) % 8]
    return PackedWindowStream(durations, soft, np.arange(n) % 3, _wave, batch_size=2, window_s=4.0, seed=7)


def _epochs(loader, stream, plan):
    """Iterate ``loader`` once per (epoch, start) of ``plan``; the clips of each batch, in order."""
    out = []
    for epoch, start in plan:
        stream.set_epoch(epoch, start, len(stream.batches(epoch)))
        out.append([batch["clips"].tolist() for batch in loader])
    return out


@pytest.mark.parametrize("workers,persistent", [(2, True), (2, False), (3, True)])
def test_workers_yield_the_in_process_batches_every_epoch(workers, persistent):
    plan = [(0, 1), (1, 0), (2, 0)]  # a resumed first epoch (from batch 1), then two whole epochs
    ref_stream = _stream()
    ref = _epochs(window_loader(ref_stream, num_workers=0), ref_stream, plan)
    stream = _stream()
    loader = window_loader(stream, num_workers=workers, persistent_workers=persistent, prefetch_factor=2)
    got = _epochs(loader, stream, plan)
    assert got == ref
    assert ref[1] != ref[2]  # the epoch reaches the workers: epochs pack differently
    assert sorted(c for b in ref[1] for c in b) == list(range(60))  # a whole epoch: every clip once
    if persistent:
        assert loader._iterator is not None and loader._iterator._persistent_workers


def test_audio_of_a_batch_is_its_clips():
    stream = _stream()
    stream.set_epoch(0)
    batch = next(iter(window_loader(stream, num_workers=0)))
    for (b, f0, f1), clip in zip(batch["spans"].tolist(), batch["clips"].tolist(), strict=True):
        seg = batch["audio"][b, f0 * 320: f1 * 320]
        assert torch.all((seg == clip) | (seg == 0))  # the clip's samples, then frame padding
