"""Decode any clip to 16 kHz mono float32 (soundfile + soxr "HQ"), from a file or an object."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path, PurePosixPath

import numpy as np
import soundfile as sf
import soxr

from ser_pipeline.audio import SAMPLE_RATE
from ser_pipeline.storage import StorageError, describe_error, is_remote, location


class AudioDecodeError(RuntimeError):
    """A clip that cannot be decoded; the message names the file and the problem."""


def optional_seconds(v) -> float | None:
    """A table's ``start_s``/``end_s`` cell as float seconds, or None for null/NaN."""
    return None if v is None or (isinstance(v, float) and np.isnan(v)) else float(v)


def to_mono(data: np.ndarray) -> np.ndarray:
    """Down-mix (samples, channels) to (samples,) by averaging channels."""
    return data if data.ndim == 1 else data.mean(axis=1)


def resample(wave: np.ndarray, orig_sr: int, target_sr: int = SAMPLE_RATE) -> np.ndarray:
    """Resample a mono float32 waveform with soxr (quality "HQ"). Shape (n,) -> (n·target/orig,)."""
    if orig_sr == target_sr:
        return wave.astype(np.float32, copy=False)
    return soxr.resample(wave.astype(np.float32, copy=False), orig_sr, target_sr, quality="HQ").astype(np.float32)


def load_clip(path: str | Path, start_s: float | None = None, end_s: float | None = None,
              target_sr: int = SAMPLE_RATE, *, root: str | Path | None = None) -> np.ndarray:
    """Read ``path`` (optionally only [start_s, end_s) seconds), down-mix, resample.

    ``root``: the corpus folder the file must lie in once symlinks are resolved. The check is
    made on the file actually opened (a symlink swapped after the scan cannot slip past it), and
    a file outside raises :class:`AudioDecodeError` "outside corpus root: <path> ...".

    Returns:
        float32 waveform at ``target_sr`` Hz, shape (samples,). Non-finite samples raise
        :class:`AudioDecodeError` (a NaN would poison a whole training window).
    """
    with contextlib.ExitStack() as stack:
        if is_remote(path):  # an object (``UPath`` or URL): soundfile reads the fsspec file object
            source = stack.enter_context(_open_object(location(path, "clip"), root))
        else:
            source = str(path) if root is None else _open_confined(path, root)
        return _decode(source, path, start_s, end_s, target_sr)


def _decode(source, path, start_s: float | None, end_s: float | None, target_sr: int) -> np.ndarray:
    """:func:`load_clip` once the file is open (``source``: a path, descriptor or file object)."""
    try:
        with sf.SoundFile(source, closefd=True) as f:
            sr = f.samplerate
            start = int(round((start_s or 0.0) * sr))
            stop = f.frames if end_s is None else min(f.frames, int(round(end_s * sr)))
            f.seek(min(start, f.frames))
            data = f.read(max(stop - start, 0), dtype="float32", always_2d=True)
    except Exception as exc:
        raise AudioDecodeError(f"{path}: cannot decode audio: {exc}") from exc
    wave = to_mono(data)
    if wave.size == 0:
        raise AudioDecodeError(f"{path}: no samples in [{start_s}, {end_s}] s")
    if not np.all(np.isfinite(wave)):
        raise AudioDecodeError(f"{path}: contains NaN or inf samples")
    return resample(wave, sr, target_sr)


def _open_confined(path: str | Path, root: str | Path) -> int:
    """Open ``path`` read-only and return its descriptor if the opened file lies inside ``root``
    (both resolved); else raise :class:`AudioDecodeError`. On Linux the path checked is that of
    the open descriptor (``/proc/self/fd``), so the check and the read see the same file."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise AudioDecodeError(f"{path}: cannot decode audio: {exc}") from exc
    try:
        proc = f"/proc/self/fd/{fd}"
        real = os.readlink(proc) if os.path.islink(proc) else os.path.realpath(path)
    except OSError:
        real = os.path.realpath(path)
    top = os.path.realpath(root)
    if real != top and not real.startswith(top.rstrip(os.sep) + os.sep):
        os.close(fd)
        raise AudioDecodeError(f"outside corpus root: {path} resolves to {real}, outside {top}")
    return fd


def _open_object(path, root) -> object:
    """Open the object ``path`` (a ``UPath``) for reading: the whole object in one ranged GET for
    clips up to 8 MiB. A key that climbs out of ``root`` (``..``) or a missing object is an
    :class:`AudioDecodeError` (the row is rejected, as a missing file is); a store that cannot be
    used is a :class:`ser_pipeline.storage.StorageError` naming the URL and the cause."""
    if root is not None:
        rel = str(path)[len(str(root).rstrip("/")) + 1:] if str(path).startswith(str(root)) else None
        if rel is None or ".." in PurePosixPath(rel).parts:
            raise AudioDecodeError(f"outside corpus root: {path} is not below {root}")
    try:
        return path.open("rb", block_size=1 << 23, cache_type="readahead")
    except FileNotFoundError as exc:
        raise AudioDecodeError(f"{path}: cannot decode audio: no such object") from exc
    except OSError as exc:
        raise StorageError(describe_error(str(path), exc)) from exc
