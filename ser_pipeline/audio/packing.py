"""Algorithm 1 (paper §2.4): pack clips into fixed windows of L seconds, and build one window.

The paper sorts a shard by duration, bisects the sorted durations for the clips that still fit
the remaining time ``L - used``, picks one of them uniformly at random, removes it, and repeats
until the window holds at least ``fill·L`` (0.8·L). This is a greedy, randomised bin packing.

Removing from a sorted Python list in a loop is O(n) per pick (``list.pop`` moves the tail), so a
pass over 309k clips costs O(n²). Here durations are counted in whole encoder frames
(50 Hz: 1 frame = 320 samples = 20 ms; a clip takes ``ceil(d·50)`` frames), so "the sorted
durations" become at most ``L·50`` buckets of equal length. A Fenwick tree over the bucket
counts answers the bisect ("how many live clips are <= r frames?") and the uniform pick ("the
j-th live clip in duration order") in O(log L) each, and a clip leaves its bucket by
swap-with-last in O(1). One pass is O(n log n), dominated by the initial sort.

Each clip appears exactly once per pass. When no live clip fits the remaining time the window
is closed as it is: that only happens once the short clips are used up, i.e. in the tail of the
pass. The paper's "refresh the sorted list" is the next pass (the dataset packs again with
``seed + epoch``).
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Sequence

import numpy as np

from ser_pipeline.audio import FRAME_RATE, SAMPLE_RATE, SAMPLES_PER_FRAME

Seconds = float


def clip_frames(durations_s: np.ndarray, n_frames: int) -> np.ndarray:
    """Encoder frames a clip occupies in a window: ``ceil(d·50)``, clamped to [1, n_frames].

    Clips longer than the window are cropped to it (see :func:`assemble_window`), so they count
    as a full window. The small epsilon keeps 2.0 s at exactly 100 frames despite float error.
    """
    f = np.ceil(np.asarray(durations_s, dtype=np.float64) * FRAME_RATE - 1e-6)
    return np.clip(f, 1, n_frames).astype(np.int64)


def pack_windows(durations_s: Sequence[Seconds] | np.ndarray, window_s: Seconds = 30.0, fill: float = 0.8,
                 seed: int = 0, start: int = 0, end: int | None = None) -> list[list[int]]:
    """One pass of Algorithm 1 over the shard ``[start, end)`` of the duration-sorted clips.

    Args:
        durations_s: clip durations in seconds, shape (n,).
        window_s: window length L in seconds. (Default: 30.0, Whisper's context.)
        fill: a window is closed once it holds >= ``fill·L``. (Default: 0.8, paper §2.4.)
        seed: the pass's random seed; the same seed gives the same windows.
        start, end: the shard, as positions in the stable duration-sorted order (a DataLoader
            worker or DDP rank owns one shard). (Default: all clips.)

    Returns:
        The windows of one pass, each a list of indices into ``durations_s`` in placement order.
        Every clip of the shard appears exactly once; the summed frames of a window are <= L·50.

    Raises:
        ValueError: for a non-positive window, a fill outside (0, 1], or a bad shard.
    """
    if window_s <= 0:
        raise ValueError(f"window_s must be > 0 s, found {window_s}")
    if not 0 < fill <= 1:
        raise ValueError(f"fill must be in (0, 1], found {fill}")
    d = np.asarray(durations_s, dtype=np.float64)
    end = len(d) if end is None else end
    if not 0 <= start <= end <= len(d):
        raise ValueError(f"shard [{start}, {end}) is outside [0, {len(d)}]")
    n_frames = int(round(window_s * FRAME_RATE))
    order = np.argsort(d, kind="stable")[start:end]  # PREPAREDATASET: the sorted shard
    frames = clip_frames(d[order], n_frames)  # ascending
    return _pack_sorted(order, frames, n_frames, math.ceil(fill * n_frames - 1e-9), random.Random(seed))


def _pack_sorted(ids: np.ndarray, frames: np.ndarray, n_frames: int, fill_frames: int,
                 rng: random.Random) -> list[list[int]]:
    """RETRIEVESEQUENCE until the pool is empty. ``frames`` ascending, aligned with ``ids``."""
    # buckets[b]: live clip ids that take exactly b frames (sorted input -> contiguous runs)
    edges = np.searchsorted(frames, np.arange(n_frames + 2), side="left")
    id_list = ids.tolist()
    buckets = [id_list[edges[b]:edges[b + 1]] for b in range(n_frames + 1)]
    # Fenwick tree over bucket counts, 1-based, size a power of two for the descent
    size = 1 << max(1, n_frames).bit_length()
    tree = [0] * (size + 1)
    for b in range(1, size + 1):  # O(size) build; buckets past n_frames are empty
        if b <= n_frames:
            tree[b] += len(buckets[b])
        parent = b + (b & -b)
        if parent <= size:
            tree[parent] += tree[b]
    # The descent's step sizes and each bucket's update path are fixed by the tree size:
    # precomputing them turns two while-loops of bit arithmetic per pick into plain for-loops
    # (about 20 % of a pass at L = 30 s).
    steps = tuple(size >> k for k in range(1, size.bit_length()))
    paths: list[tuple[int, ...]] = [()] * (n_frames + 1)
    for b in range(1, n_frames + 1):
        path, i = [], b
        while i <= size:
            path.append(i)
            i += i & -i
        paths[b] = tuple(path)
    total = len(id_list)
    rand = rng.random
    windows: list[list[int]] = []
    while total:
        window: list[int] = []
        used = 0
        while used < fill_frames and total:
            r = n_frames - used  # remaining frames
            # Uniform over the live clips that fit (<= r frames). Draw over all live clips first
            # and accept if it fits: conditioned on fitting, that draw is uniform over the fitting
            # ones, and it saves the prefix sum while most clips fit. On a miss, count exactly.
            j = int(rand() * total)
            pos = 0
            for step in steps:  # descent: largest pos with prefix(pos) <= j
                nxt = pos + step
                t = tree[nxt]
                if t <= j:
                    pos = nxt
                    j -= t
            b = pos + 1
            if b > r:  # bisect: live clips of <= r frames = Fenwick prefix sum
                c, i = 0, r
                while i:
                    c += tree[i]
                    i &= i - 1
                if c == 0:
                    break  # nothing fits: close the window (tail of the pass)
                j = int(rand() * c)  # uniform over the c fitting clips
                pos = 0
                for step in steps:
                    nxt = pos + step
                    t = tree[nxt]
                    if t <= j:
                        pos = nxt
                        j -= t
                b = pos + 1  # j is now the pick's uniform position inside bucket b
            bucket = buckets[b]
            window.append(bucket[j])
            bucket[j] = bucket[-1]  # O(1) removal: swap with last, pop
            bucket.pop()
            for i in paths[b]:
                tree[i] -= 1
            total -= 1
            used += b
        windows.append(window)
    return windows


def pack_windows_baseline(durations_s: Sequence[Seconds] | np.ndarray, window_s: Seconds = 30.0,
                          fill: float = 0.8, seed: int = 0) -> list[list[int]]:
    """The straightforward Algorithm 1: sorted list + ``bisect`` + ``list.pop`` (O(n²) per pass).

    Kept as the reference the benchmark measures against; same frame accounting as
    :func:`pack_windows`.
    """
    import bisect

    d = np.asarray(durations_s, dtype=np.float64)
    n_frames = int(round(window_s * FRAME_RATE))
    fill_frames = math.ceil(fill * n_frames - 1e-9)
    order = np.argsort(d, kind="stable")
    pool_f = clip_frames(d[order], n_frames).tolist()
    pool_i = order.tolist()
    rng = random.Random(seed)
    windows: list[list[int]] = []
    while pool_f:
        window, used = [], 0
        while used < fill_frames and pool_f:
            k = bisect.bisect_right(pool_f, n_frames - used)
            if k == 0:
                break
            p = int(rng.random() * k)
            used += pool_f.pop(p)
            window.append(pool_i.pop(p))
        windows.append(window)
    return windows


@dataclasses.dataclass
class PackedWindow:
    """One training window: clips laid end to end from sample 0, zero padding after them.

    Frame f (50 Hz) covers samples [320·f, 320·(f+1)). Clip k covers frames
    ``spans[k, 0] <= f < spans[k, 1]``; its last frame may be partly padding but is labelled.

    Attributes:
        audio: float32 (window_s·16000,) at 16 kHz.
        targets: float32 (n_frames, 8): each clip's soft label over its span, 0 on padding.
        frame_mask: bool (n_frames,): True on frames inside a clip, False on padding.
        spans: int64 (k, 2) [start_frame, end_frame) of each placed clip.
        domain_ids: int64 (k,) domain id of each placed clip.
        kept: int64 (k,) position of each placed clip in the input list (a clip that no longer
            fits after augmentation, e.g. resampled longer, is dropped).
    """

    audio: np.ndarray
    targets: np.ndarray
    frame_mask: np.ndarray
    spans: np.ndarray
    domain_ids: np.ndarray
    kept: np.ndarray


def assemble_window(waves: Sequence[np.ndarray], soft_labels: np.ndarray, domain_ids: np.ndarray,
                    window_s: Seconds = 30.0, sample_rate: int = SAMPLE_RATE,
                    rng: np.random.Generator | None = None) -> PackedWindow:
    """Lay ``waves`` end to end into one window of ``window_s`` seconds, with per-frame targets.

    Each clip starts on a frame boundary. A clip longer than the window is cropped to it at a
    random offset; a clip that overflows the space left (possible after augmentation changed its
    length) is cropped at a random offset to that space, and dropped if no frame is left.

    Args:
        waves: k float arrays (samples,) at ``sample_rate`` (16 kHz), already augmented.
        soft_labels: (k, 8) soft labels.
        domain_ids: (k,) domain ids.
        rng: numpy generator for the crop offsets.
    """
    if sample_rate != SAMPLE_RATE:
        raise ValueError(f"windows are built at {SAMPLE_RATE} Hz, found sample_rate={sample_rate}")
    rng = rng if rng is not None else np.random.default_rng(0)
    # (k, C): C = 8 emotions, or any target width (e.g. the 9 Hume-Prosody dimensions)
    soft_labels = np.asarray(soft_labels, dtype=np.float32).reshape(len(waves), -1)
    domain_ids = np.asarray(domain_ids, dtype=np.int64).reshape(len(waves))
    n_frames = int(round(window_s * FRAME_RATE))
    n_samples = n_frames * SAMPLES_PER_FRAME
    audio = np.zeros(n_samples, dtype=np.float32)
    targets = np.zeros((n_frames, soft_labels.shape[1]), dtype=np.float32)
    mask = np.zeros(n_frames, dtype=bool)
    spans, kept = [], []
    f0 = 0
    for k, w in enumerate(waves):
        space = (n_frames - f0) * SAMPLES_PER_FRAME
        w = np.asarray(w, dtype=np.float32).reshape(-1)
        if space <= 0 or len(w) == 0:
            continue
        if len(w) > space:  # crop at a random offset
            off = int(rng.integers(0, len(w) - space + 1))
            w = w[off: off + space]
        s0 = f0 * SAMPLES_PER_FRAME
        audio[s0: s0 + len(w)] = w
        f1 = f0 + -(-len(w) // SAMPLES_PER_FRAME)  # ceil: the partly filled last frame is labelled
        targets[f0:f1] = soft_labels[k]
        mask[f0:f1] = True
        spans.append((f0, f1))
        kept.append(k)
        f0 = f1
    kept_a = np.asarray(kept, dtype=np.int64)
    return PackedWindow(audio, targets, mask, np.asarray(spans, dtype=np.int64).reshape(-1, 2),
                        domain_ids[kept_a], kept_a)
