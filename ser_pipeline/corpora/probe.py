"""Audio header probing for corpus scans: one file, or many in worker processes alongside a reader.

A scan never decodes audio to build a table: the header gives the sample rate, channels and
length (float files are additionally streamed once for NaN/inf). :class:`HeaderProber` sends
files to worker processes in chunks *while the reader is still walking its corpus*, so probing
overlaps with label parsing instead of following it (benchmarks/scan.py measures the gain).
Objects in a bucket are not probed one round trip after another: a chunk's header blocks are
fetched with several GETs in flight, then parsed from memory (benchmarks/s3_scan.py).
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import contextlib
import dataclasses
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import soundfile as sf

from ser_pipeline import settings
from ser_pipeline.procs import die_with_parent
from ser_pipeline.storage import HeadFile, RemoteFile, StorageError, describe_error, fetch_heads, open_for_probe

Seconds = float


class Reason:
    """Enumerable reject reasons (the ``reason`` column of a rejects table)."""

    UNREADABLE_AUDIO = "unreadable_audio"  # soundfile cannot open or decode it
    ZERO_LENGTH = "zero_length"  # a valid header with no samples
    BAD_SAMPLES = "bad_samples"  # NaN or inf samples
    AUDIO_MISSING = "audio_missing"  # a label file lists audio that does not exist
    LABEL_MISSING = "label_missing"  # audio that no label file lists / no label in the name
    LABEL_UNKNOWN = "unknown_label"  # a label code that the label map does not know
    MALFORMED = "malformed_annotation"  # a label line or file name that cannot be parsed
    DUPLICATE_ID = "duplicate_id"  # a second file with an utterance id already taken
    NO_AGREEMENT = "no_agreement"  # no consensus and no votes to build a soft label from
    OUTSIDE_ROOT = "outside_root"  # a manifest path that escapes the corpus root
    SEGMENT_OUT_OF_RANGE = "segment_out_of_range"  # a segment that lies outside its audio file
    # Rows the tables cannot hold (corpora/validate.py would fail the blocking table_valid check):
    TOO_LONG = "duration_out_of_range"  # longer than MAX_DURATION_S (one hour): a layout error
    NAN_SCORES = "nan_scores"  # a score that is NaN or missing while the row has other scores
    NO_SCORE_MASS = "no_score_mass"  # all eight scores zero: nothing to build a soft label from

    ALL = (
        UNREADABLE_AUDIO, ZERO_LENGTH, BAD_SAMPLES, AUDIO_MISSING, LABEL_MISSING, LABEL_UNKNOWN,
        MALFORMED, DUPLICATE_ID, NO_AGREEMENT, OUTSIDE_ROOT, SEGMENT_OUT_OF_RANGE, TOO_LONG, NAN_SCORES,
        NO_SCORE_MASS,
    )


#: the longest utterance a table may hold; a longer one is a layout error (one whole recording)
MAX_DURATION_S = 3600.0


class AudioInfo(NamedTuple):
    """Header facts of one audio file (no full decode).

    A NamedTuple, not a dataclass: tens of thousands cross from worker processes per scan, and a
    tuple unpickles several times faster.
    """

    sample_rate: int  # Hz
    channels: int
    frames: int  # samples per channel
    subtype: str

    @property
    def duration_s(self) -> Seconds:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


class AudioProbeError(Exception):
    """A file that cannot become a row; carries the reject reason."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail

    def __reduce__(self):  # picklable, so worker processes can return it
        return (AudioProbeError, (self.reason, self.detail))


def _resolved(path: str, dir_cache: dict[str, str] | None) -> str:
    """``os.path.realpath(path)``, resolving each folder once per ``dir_cache``.

    realpath walks every component with an lstat; files of a corpus share a few folders, so
    only the file itself (a link or not) is checked per file. The cache lives for one chunk of
    one scan, so a folder link changed between scans is seen.
    """
    if dir_cache is None or os.path.islink(path):
        return os.path.realpath(path)
    folder, name = os.path.split(path)
    real = dir_cache.get(folder)
    if real is None:
        real = dir_cache[folder] = os.path.realpath(folder)
    return os.path.join(real, name)


def probe_audio(path: Path | str | RemoteFile, confine_to: str | None = None,
                _dir_cache: dict[str, str] | None = None) -> AudioInfo:
    """Read the header of ``path`` with soundfile; raise :class:`AudioProbeError` if unusable.

    ``confine_to``: a resolved folder the file must stay inside once symlinks are resolved
    (user manifests); a file outside it is rejected with ``outside_root``. A
    :class:`~ser_pipeline.storage.RemoteFile` is probed with one ranged GET (PCM); a store that
    fails (not a missing object) raises :class:`~ser_pipeline.storage.StorageError`, which stops
    the scan instead of rejecting the file.
    """
    if isinstance(path, RemoteFile):
        return _probe_remote(path)
    if confine_to is not None:
        real = _resolved(str(path), _dir_cache)
        if real != confine_to and not real.startswith(confine_to + os.sep):
            raise AudioProbeError(Reason.OUTSIDE_ROOT, f"{path} resolves to {real}, outside the corpus root")
    try:
        info = sf.info(str(path))
    except Exception as exc:  # soundfile raises LibsndfileError/RuntimeError/OSError
        if os.path.islink(path) and not os.path.exists(path):
            raise AudioProbeError(Reason.AUDIO_MISSING,
                                  f"{path}: broken symlink to {os.readlink(path)}") from exc
        if not os.path.exists(path):
            raise AudioProbeError(Reason.AUDIO_MISSING, f"{path}: no such file") from exc
        if not os.access(path, os.R_OK):
            raise AudioProbeError(Reason.UNREADABLE_AUDIO, f"{path}: permission denied") from exc
        raise AudioProbeError(Reason.UNREADABLE_AUDIO, f"{path}: {_sf_message(exc)}") from exc
    if info.frames <= 0 or info.samplerate <= 0:
        raise AudioProbeError(Reason.ZERO_LENGTH, f"{path}: header reports {info.frames} samples")
    if info.subtype in ("FLOAT", "DOUBLE"):
        # Only float files can hold NaN/inf; PCM cannot, so the header probe suffices for those.
        _check_finite(path)
    return AudioInfo(int(info.samplerate), int(info.channels), int(info.frames), str(info.subtype))


def _sf_message(exc: BaseException) -> str:
    """libsndfile's own words for a failed open (``Error in WAV file. No 'data' chunk marker.``),
    without soundfile's "Error opening <name>" prefix, so a reject reads the same whichever store
    the file came from."""
    return str(getattr(exc, "error_string", None) or exc)


def _probe_remote(obj: RemoteFile, head: bytes | FileNotFoundError | None = None) -> AudioInfo:
    """:func:`probe_audio` for an object: header (and, for float files, samples) read through
    fsspec in this process. ``head``: its first bytes, already fetched (:func:`probe_chunk`), so
    the header is parsed from memory; or the ``FileNotFoundError`` that fetching them met."""
    url = obj.url
    try:
        if isinstance(head, FileNotFoundError):
            raise head
        opened = open_for_probe(url, obj.size, obj.storage_options) if head is None \
            else HeadFile(url, obj.size, head, obj.storage_options)
        with opened as f:
            try:
                info = _parse_object(f, url)
            except AudioProbeError:
                if getattr(f, "failure", None) is None:
                    raise
            failure = getattr(f, "failure", None)  # the store failed under the parser
            if isinstance(failure, FileNotFoundError):
                raise failure
            if failure is not None:
                raise StorageError(describe_error(url, failure)) from failure
    except FileNotFoundError as exc:
        raise AudioProbeError(Reason.AUDIO_MISSING, f"{url}: no such object") from exc
    except (AudioProbeError, StorageError):
        raise
    except OSError as exc:
        raise StorageError(describe_error(url, exc)) from exc
    return info


def _parse_object(f, url: str) -> AudioInfo:
    """The header of the open object ``f`` (float files: all samples checked for NaN/inf)."""
    try:
        info = sf.info(f)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioProbeError(Reason.UNREADABLE_AUDIO, f"{url}: {_sf_message(exc)}") from exc
    if info.frames <= 0 or info.samplerate <= 0:
        raise AudioProbeError(Reason.ZERO_LENGTH, f"{url}: header reports {info.frames} samples")
    if info.subtype in ("FLOAT", "DOUBLE"):
        f.seek(0)
        _check_finite(f, name=url)
    return AudioInfo(int(info.samplerate), int(info.channels), int(info.frames), str(info.subtype))


def _check_finite(path, block: int = 1 << 18, name: str | None = None) -> None:
    """Raise ``bad_samples`` if a float file holds NaN or inf (streamed; memory stays flat)."""
    name = name or str(path)
    try:
        source = path if hasattr(path, "read") else str(path)
        for chunk in sf.blocks(source, blocksize=block, dtype="float32", always_2d=True):
            if not np.all(np.isfinite(chunk)):
                raise AudioProbeError(Reason.BAD_SAMPLES, f"{name}: NaN or inf samples")
    except AudioProbeError:
        raise
    except OSError as exc:
        if hasattr(path, "read"):  # a store that failed mid-read: not the file's fault
            raise
        raise AudioProbeError(Reason.UNREADABLE_AUDIO, f"{name}: {exc}") from exc
    except Exception as exc:
        raise AudioProbeError(Reason.UNREADABLE_AUDIO, f"{name}: {exc}") from exc


ProbeResult = AudioInfo | AudioProbeError


#: objects whose header blocks one probing process holds at once (64 KiB each: 16 MiB)
PREFETCH_FILES = 256


def probe_chunk(paths: list[str | RemoteFile], confine_to: str | None = None) -> list[ProbeResult]:
    """Probe ``paths`` in order; a failure is returned as its :class:`AudioProbeError`, not raised.

    Objects (:class:`~ser_pipeline.storage.RemoteFile` with a listed size) are not probed one round
    trip after another: the header blocks of up to :data:`PREFETCH_FILES` of them are fetched
    together (:func:`~ser_pipeline.storage.fetch_heads`, a bounded number of GETs in flight), then
    parsed from memory. A store failure raises :class:`~ser_pipeline.storage.StorageError`."""
    dir_cache: dict[str, str] = {}
    out: list[ProbeResult] = []
    for start in range(0, len(paths), PREFETCH_FILES):
        window = paths[start:start + PREFETCH_FILES]
        listed = [i for i, p in enumerate(window) if isinstance(p, RemoteFile) and p.size >= 0]
        heads = dict(zip(listed, fetch_heads([window[i] for i in listed]), strict=True)) if listed else {}
        for i, p in enumerate(window):
            try:
                head = heads.get(i)
                out.append(_probe_remote(p, head) if head is not None else probe_audio(p, confine_to, dir_cache))
            except AudioProbeError as err:
                out.append(err)
    return out


# --- scan settings --------------------------------------------------------------------------


@dataclasses.dataclass
class ScanSettings:
    """How one corpus scan runs: probing processes, progress, bookkeeping memory, where rows go.

    Passed explicitly: ``read(root, scan=ScanSettings(workers=4))`` -> ``TableBuilder(spec, root,
    scan)``. Fields left out take their defaults from :mod:`ser_pipeline.settings` when the object
    is built (``$SER_SCAN_WORKERS``, ``$SER_SCAN_MEMORY_KEYS``), not when this module is imported.
    """

    workers: int = dataclasses.field(default_factory=settings.scan_workers)  # processes probing headers (1 = this one)
    progress: Callable[[int, int], None] | None = None  # called with (probed, requested so far)
    tqdm: bool = False  # a progress bar on the terminal
    chunk_files: int = 1024  # files per task sent to a worker (see HeaderProber)
    sink: Any = None  # a ManifestSink: rows stream into it in row groups and are not kept
    #: paths / ids kept in memory per scan, the rest on disk (KeySet)
    memory_keys: int = dataclasses.field(default_factory=settings.scan_memory_keys)


# --- pool workers die with the scan: ser_pipeline.procs.die_with_parent (SIGKILL) -----------

#: below this many files a pool's start-up costs more than it saves
MIN_FILES_FOR_WORKERS = 64
#: chunks in flight per pool process. This process hands out work only between its own steps
#: (and its pool threads wait for the GIL while it parses labels), so one queued chunk is not
#: always enough: 3 measured 2-4 % faster than 2 on 20,000 files, 4 no better.
POOL_WINDOW = 3
#: full chunks allowed to wait for the pool before the scanning process probes one itself
MAX_BACKLOG = 4
#: seconds between two progress reports
PROGRESS_EVERY_S = 2.0


class HeaderProber:
    """Probes files as a reader finds them, in chunks; results kept by key.

    ``workers = N`` means N processes probe: this one and a pool of N - 1. While the reader is
    still parsing labels, full chunks go to the pool (a window of :data:`POOL_WINDOW` per pool
    process, so the rest stays here to be shared later). ``wait`` then probes chunks in this process too, topping up
    the pool as it goes, so N cores stay busy without an extra process competing for one of them.
    With ``workers == 1`` (or fewer than 64 files) everything is probed here.
    """

    def __init__(self, confine_to: str | None = None, scan: ScanSettings | None = None):
        self.settings = scan if scan is not None else ScanSettings()
        self._confine = confine_to
        self._size = max(self.settings.chunk_files, 1)
        self._chunks: collections.deque[list[tuple[str, str]]] = collections.deque()  # full, not sent
        self._open: list[tuple[str, str]] = []  # (key, path) of the chunk being filled
        self._rest: collections.deque[tuple[str, str]] = collections.deque()  # left when wait() starts
        self._inflight: collections.deque[tuple[list[str], cf.Future]] = collections.deque()
        self._pool: cf.ProcessPoolExecutor | None = None
        self._requested = 0
        self._probed = 0
        self._last_report = time.monotonic()
        self._bar = None
        self.results: dict[str, ProbeResult] = {}

    @property
    def _pool_workers(self) -> int:
        return self.settings.workers - 1

    def request(self, key: str, path: str) -> None:
        """Queue ``path`` under ``key`` (each key once)."""
        self._open.append((key, path))
        self._requested += 1
        # chunk sizes double from 64 up to chunk_files, so the pool starts early in the scan
        if len(self._open) >= min(self._size, max(MIN_FILES_FOR_WORKERS, self._requested - len(self._open))):
            self._chunks.append(self._open)
            self._open = []
            if self._pool_workers > 0 and self._requested >= MIN_FILES_FOR_WORKERS:
                self._harvest(block=False)
                self._top_up()
            # Probe here and now when alone, or when the pool lags this many chunks behind the
            # reader: rows get built as the scan goes, and the queue of waiting rows stays short.
            while len(self._chunks) > (0 if self._pool_workers <= 0 else MAX_BACKLOG):
                part = self._chunks.popleft()
                self._store([k for k, _ in part], probe_chunk([p for _, p in part], self._confine))

    def wait(self, on_chunk: Callable[[], None] | None = None) -> dict[str, ProbeResult]:
        """Probe everything still queued; return the results not yet taken (key -> AudioInfo or
        error; a caller may remove results it has used from :attr:`results`).

        ``on_chunk`` is called after each chunk's results are stored (the table builder turns
        them into rows while later chunks are still being probed).
        """
        if self._open:
            self._chunks.append(self._open)
            self._open = []
        parallel = self._pool_workers > 0 and self._requested >= MIN_FILES_FOR_WORKERS
        # Guided scheduling from here on: pieces shrink with the work left (down to 64 files),
        # so all processes run out of work at about the same time.
        self._rest = collections.deque(item for part in self._chunks for item in part)
        self._chunks.clear()
        try:
            while self._rest or self._inflight:
                got = 0
                if parallel:  # feed the pool first, then do a piece here, then build rows
                    got = self._harvest(block=False)
                    self._top_up()
                if self._rest:  # this process is a worker too
                    part = self._next_piece()
                    self._store([k for k, _ in part], probe_chunk([p for _, p in part], self._confine))
                    got += 1
                elif self._inflight:
                    got += self._harvest(block=True, limit=1)
                if got and on_chunk is not None:
                    on_chunk()
            self._report(force=True)
        finally:
            self.close()
        return self.results

    def close(self) -> None:
        """Stop the worker processes and the progress bar (idempotent)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __del__(self):  # a reader that raised mid-scan must not leave workers behind
        with contextlib.suppress(Exception):
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)

    # -- internals --

    def _top_up(self) -> None:
        """Keep :data:`POOL_WINDOW` chunks per pool process in flight: one running, the others
        queued, so a worker never waits for this process to hand it work."""
        if self._pool is None:
            self._pool = cf.ProcessPoolExecutor(self._pool_workers, initializer=die_with_parent,
                                                initargs=(os.getpid(),))
        while (self._chunks or self._rest) and len(self._inflight) < POOL_WINDOW * self._pool_workers:
            part = self._chunks.popleft() if self._chunks else self._next_piece()
            fut = self._pool.submit(probe_chunk, [p for _, p in part], self._confine)
            self._inflight.append(([k for k, _ in part], fut))

    def _next_piece(self) -> list[tuple[str, str]]:
        """Take the next piece of the remaining files: remaining / (2·workers), 64 .. chunk_files."""
        n = min(self._size, max(MIN_FILES_FOR_WORKERS, len(self._rest) // (2 * max(self.settings.workers, 1))))
        return [self._rest.popleft() for _ in range(min(n, len(self._rest)))]

    def _harvest(self, block: bool, limit: int | None = None) -> int:
        """Store the results of finished pool chunks, oldest first; returns how many."""
        n = 0
        while self._inflight and (block or self._inflight[0][1].done()) and (limit is None or n < limit):
            keys, fut = self._inflight.popleft()
            self._store(keys, fut.result())
            n += 1
        return n

    def _store(self, keys: list[str], results: list[ProbeResult]) -> None:
        self.results.update(zip(keys, results, strict=True))
        self._probed += len(keys)
        if self._bar is None and self.settings.tqdm:
            from tqdm import tqdm

            self._bar = tqdm(unit="file", desc="probing audio", leave=False)
        if self._bar is not None:
            self._bar.total = self._requested
            self._bar.update(len(keys))
        self._report()

    def _report(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.settings.progress is not None and (force or now - self._last_report >= PROGRESS_EVERY_S):
            self._last_report = now
            self.settings.progress(self._probed, self._requested)
