"""The training stream: Algorithm 1 windows (paper §2.4) of augmented clips (§2.3), in batches.

Sharding. A DDP rank owns every ``world``-th clip of the duration-sorted table (positions
``rank, rank + world, ...``), so every rank sees the same duration distribution and packs about
the same number of windows; a contiguous slice of the sorted table would hand one rank all the
short clips and another all the long ones. Each rank packs its own shard with
:func:`~ser_pipeline.audio.packing.pack_windows`; DataLoader workers of a rank then own every
``num_workers``-th batch, which the DataLoader's round-robin hands back in batch order.

Determinism and resume. Everything random is a pure function of (seed, epoch, rank, index): the
packing seed, each clip's augmentation seed, each window's crop offsets. An epoch can therefore
start at any batch (``start_batch``) and yield exactly what the uninterrupted run would have.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ser_pipeline.audio.augment import WaveformAugmenter
from ser_pipeline.audio.packing import assemble_window, pack_windows


def mix_seed(*parts: int) -> int:
    """A 32-bit seed from integers (SeedSequence mixes them well)."""
    return int(np.random.SeedSequence([int(p) & 0xFFFFFFFF for p in parts]).generate_state(1)[0])


def collate_windows(windows) -> dict[str, torch.Tensor]:
    """PackedWindows -> a batch dict.

    Returns:
        audio float32 (B, samples); targets float32 (B, T, 8); frame_mask bool (B, T);
        spans int64 (K, 3) ``(batch, start, end)``; clip_targets float32 (K, 8);
        domain_ids int64 (K,); clips (K,) table row of each span.
    """
    spans, clip_t, dom, clips = [], [], [], []
    for b, (w, rows, soft) in enumerate(windows):
        spans.append(np.concatenate([np.full((len(w.spans), 1), b), w.spans], axis=1))
        clip_t.append(soft[w.kept])
        dom.append(w.domain_ids)
        clips.append(np.asarray(rows)[w.kept])
    return {
        "audio": torch.from_numpy(np.stack([w.audio for w, _, _ in windows])),
        "targets": torch.from_numpy(np.stack([w.targets for w, _, _ in windows])),
        "frame_mask": torch.from_numpy(np.stack([w.frame_mask for w, _, _ in windows])),
        "spans": torch.from_numpy(np.concatenate(spans).astype(np.int64)),
        "clip_targets": torch.from_numpy(np.concatenate(clip_t).astype(np.float32)),
        "domain_ids": torch.from_numpy(np.concatenate(dom).astype(np.int64)),
        "clips": torch.from_numpy(np.concatenate(clips).astype(np.int64)),
    }


class PackedWindowStream(torch.utils.data.IterableDataset):
    """Batches of packed windows for one rank and one epoch.

    Args:
        durations_s: (n,) clip durations in seconds (the table's ``duration_s``).
        soft_labels: (n, 8) soft labels; domain_ids: (n,) int, -1 = unknown.
        wave_fn: row index -> float32 (samples,) at 16 kHz (decoding happens in the workers).
        batch_size: windows per micro-batch.
        window_s, fill: Algorithm 1's L (seconds) and fill threshold.
        augmenter: per-clip waveform augmentation, or None (evaluation).
        seed, rank, world: run seed and DDP position.
    """

    def __init__(self, durations_s: np.ndarray, soft_labels: np.ndarray, domain_ids: np.ndarray,
                 wave_fn: Callable[[int], np.ndarray], *, batch_size: int, window_s: float = 30.0,
                 fill: float = 0.8, augmenter: WaveformAugmenter | None = None, seed: int = 0,
                 rank: int = 0, world: int = 1):
        self.durations = np.asarray(durations_s, dtype=np.float64)
        self.soft = np.asarray(soft_labels, dtype=np.float32)
        self.domains = np.asarray(domain_ids, dtype=np.int64)
        self.wave_fn, self.batch_size = wave_fn, batch_size
        self.window_s, self.fill, self.augmenter = window_s, fill, augmenter
        self.seed, self.rank, self.world = seed, rank, world
        # this rank's shard: every world-th clip of the duration-sorted order
        self.shard = np.argsort(self.durations, kind="stable")[rank::world]
        # (epoch, start_batch, limit or -1) in shared memory: persistent DataLoader workers hold
        # copies of this object made once, and read where to go from here at each epoch.
        self._position = torch.zeros(3, dtype=torch.int64).share_memory_()
        self.set_epoch(0)

    @property
    def epoch(self) -> int:
        return int(self._position[0])

    @property
    def start_batch(self) -> int:
        return int(self._position[1])

    @property
    def limit(self) -> int | None:
        lim = int(self._position[2])
        return None if lim < 0 else lim

    def batches(self, epoch: int) -> list[list[list[int]]]:
        """The epoch's micro-batches: lists of windows, each a list of table rows."""
        local = pack_windows(self.durations[self.shard], self.window_s, self.fill,
                             seed=mix_seed(self.seed, epoch, self.rank))
        windows = [self.shard[w].tolist() for w in local]
        return [windows[i: i + self.batch_size] for i in range(0, len(windows), self.batch_size)]

    def set_epoch(self, epoch: int, start_batch: int = 0, limit: int | None = None) -> None:
        """Yield batches ``[start_batch, limit)`` of ``epoch`` next (limit: the ranks' common count).

        Call before iterating the DataLoader for that epoch; its workers, persistent or not, see
        the new position when the iteration starts.
        """
        self._position.copy_(torch.tensor([epoch, start_batch, -1 if limit is None else limit]))

    def window(self, rows: list[int], epoch: int, index: int):
        """Load, augment (per clip, before packing) and assemble one window."""
        waves = []
        for r in rows:
            w = self.wave_fn(r)
            if self.augmenter is not None:
                w = self.augmenter(w, seed=mix_seed(self.seed, epoch, r, 1))
            waves.append(w)
        rng = np.random.default_rng(mix_seed(self.seed, epoch, self.rank, index, 2))
        pw = assemble_window(waves, self.soft[rows], self.domains[rows], window_s=self.window_s, rng=rng)
        return pw, rows, self.soft[rows]

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        wid, nw = (info.id, info.num_workers) if info is not None else (0, 1)
        epoch, start, limit = self.epoch, self.start_batch, self.limit
        batches = self.batches(epoch)
        stop = len(batches) if limit is None else min(limit, len(batches))
        for b in range(start, stop):
            if (b - start) % nw != wid:
                continue
            windows = [self.window(rows, epoch, b * self.batch_size + k) for k, rows in enumerate(batches[b])]
            yield collate_windows(windows)


def window_loader(stream: PackedWindowStream, *, num_workers: int, prefetch_factor: int = 4,
                  persistent_workers: bool = True, pin_memory: bool = False,
                  seed: int = 0) -> torch.utils.data.DataLoader:
    """The DataLoader over ``stream``: its workers decode (cache or files), augment and pack.

    Batches come pre-collated from the stream (``batch_size=None``). Workers stay alive across
    epochs when ``persistent_workers`` (they read each epoch's position from the stream's shared
    state); ``pin_memory`` for a CUDA device; each worker keeps ``prefetch_factor`` batches ready.
    """
    return torch.utils.data.DataLoader(
        stream, batch_size=None, num_workers=num_workers, generator=torch.Generator().manual_seed(seed),
        persistent_workers=num_workers > 0 and persistent_workers, pin_memory=pin_memory,
        prefetch_factor=prefetch_factor if num_workers > 0 else None)
