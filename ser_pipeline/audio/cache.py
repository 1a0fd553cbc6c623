"""The audio cache: every referenced clip decoded once, down-mixed, resampled to 16 kHz (soxr "HQ").

One folder per corpus (so a changed corpus rebuilds only its own shards)::

    <cache>/<corpus>/shard_00000.npy    concatenated samples, int16 (default) or float32
    <cache>/<corpus>/index.parquet      utterance_id, shard, offset, length (samples at 16 kHz),
                                        and the source: path, start_s, end_s of the row decoded

A clip is served from the cache only when the row asking for it has the same source (path and
segment bounds) as the row it was decoded from; otherwise (a corpus changed and its cache not
rebuilt yet) the original file is decoded, so a stale cache can cost speed, never correctness.

Shards are memory-mapped on read (``np.load(mmap_mode="r")``), so DataLoader workers share the
page cache and never hold a whole shard. int16 halves disk and memory traffic; its quantisation
step (1/32767 ≈ 3e-5 of full scale) is far below what the log-mel front end resolves.

The cache may live on object storage (``out_dir``/``cache_root`` an ``s3://`` URL or ``UPath``):
a build decodes into a local scratch folder (:func:`ser_pipeline.settings.scratch_dir`), then
uploads each shard as one object and the index LAST, its commit marker (the old index is deleted
before the first shard goes up), so a reader never trusts a half-uploaded cache; shards and index
are byte-identical to a local build. Readers stream shard byte ranges through a node-local block
cache (:mod:`ser_pipeline.audio.remote_shard`), opened lazily in each process. Two builds of one
remote folder at the same time are not kept apart (object stores have no lock file), and a
reader that already loaded an index must not see its shards rebuilt under it: build a corpus's
cache before the runs that read it, as the asset graph does.
"""

from __future__ import annotations

import errno
import io
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ser_pipeline.audio import SAMPLE_RATE
from ser_pipeline.audio.io import AudioDecodeError, load_clip, optional_seconds
from ser_pipeline.audio.remote_shard import DEFAULT_BLOCK_SIZE, RemoteShard
from ser_pipeline.locks import exclusive
from ser_pipeline.procs import process_alive
from ser_pipeline.storage import (StorageError, check_access, describe_error, is_remote, location, put_folder,
                                  read_bytes)

log = logging.getLogger(__name__)

SHARD_SAMPLES = 16000 * 3600  # one hour of audio per shard
INDEX = "index.parquet"
META = "cache.json"


def build_corpus_cache(rows: pd.DataFrame, corpus_root: str | Path, out_dir: str | Path, *,
                       dtype: str = "int16", shard_samples: int = SHARD_SAMPLES,
                       progress: Callable[[int, int], None] | None = None,
                       holder: str | None = None, on_wait: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Decode every row of one corpus into shards under ``out_dir``; returns the index.

    Rows whose audio cannot be decoded, or whose file resolves outside ``corpus_root`` (a symlink
    swapped since the scan), are listed in the returned index with ``length = -1`` and an
    ``error`` text (nothing is dropped silently).

    Builders of one ``out_dir`` take turns (a lock file ``.<name>.lock`` next to it; ``holder`` is
    what a waiting builder is told, through ``on_wait``). Each build writes into its own staging
    folder ``.<name>.tmp-<pid>-<random>`` that is renamed into place, so an interrupted build leaves
    the previous cache intact; staging folders of builds whose process is gone are removed first.
    A full disk raises ``OSError`` "no space left on <folder>" after removing the staging folder.
    """
    if dtype not in ("int16", "float32"):
        raise ValueError(f"cache dtype must be int16 or float32, not {dtype!r}")
    if is_remote(dest := location(out_dir, "audio cache folder")):
        return _build_remote(rows, corpus_root, dest, dtype, shard_samples, progress)
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    holder = holder or f"pid {os.getpid()}"
    with exclusive(out_dir.with_name(f".{out_dir.name}.lock"), holder, on_wait):
        remove_stale_staging(out_dir)
        tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.tmp-{os.getpid()}-"))
        try:
            idx = _write_cache(rows, corpus_root, tmp, dtype, shard_samples, progress)
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise OSError(exc.errno, f"no space left on {out_dir.parent} while building the audio cache "
                                         f"{out_dir.name} (its partial copy was removed): {exc}") from exc
            raise
        # swap: the old cache moves to a unique name (a rename onto an empty folder), the new one in
        old = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.old-{os.getpid()}-"))
        if out_dir.exists():
            os.replace(out_dir, old)
        os.replace(tmp, out_dir)
        shutil.rmtree(old, ignore_errors=True)
    return idx


def _build_remote(rows: pd.DataFrame, corpus_root, dest, dtype: str, shard_samples: int,
                  progress: Callable[[int, int], None] | None) -> pd.DataFrame:
    """:func:`build_corpus_cache` into object storage: decode into a scratch folder, then upload
    the shards and meta file and the index last (:func:`ser_pipeline.storage.put_folder`)."""
    from ser_pipeline.settings import scratch_dir

    check_access(dest)  # a missing bucket or bad credentials fail before any decoding
    tmp = Path(tempfile.mkdtemp(dir=scratch_dir(), prefix="cache-build-"))
    try:
        idx = _write_cache(rows, corpus_root, tmp, dtype, shard_samples, progress)
        put_folder(tmp, dest, last=INDEX)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return idx


def write_shard(path: Path, samples: np.ndarray) -> None:
    """Write one shard file (``np.save``)."""
    np.save(path, samples)


def _write_cache(rows: pd.DataFrame, corpus_root: str | Path, tmp: Path, dtype: str, shard_samples: int,
                 progress: Callable[[int, int], None] | None) -> pd.DataFrame:
    """Decode ``rows`` into shards, index and meta file in the folder ``tmp``; returns the index."""
    index, buf, buf_len, shard = [], [], 0, 0

    def flush() -> None:
        nonlocal buf, buf_len, shard
        if buf:
            write_shard(tmp / f"shard_{shard:05d}.npy", np.concatenate(buf))
            shard += 1
            buf, buf_len = [], 0

    recs = rows.sort_values("utterance_id").to_dict("records")
    root = location(corpus_root, "corpus root")  # a UPath for a bucket: clips are read as objects
    for i, r in enumerate(recs, 1):
        try:
            w = load_clip(root / r["path"], optional_seconds(r.get("start_s")),
                          optional_seconds(r.get("end_s")), root=root if is_remote(root) else corpus_root)
        except AudioDecodeError as exc:
            index.append({"utterance_id": r["utterance_id"], "shard": -1, "offset": 0, "length": -1,
                          "error": str(exc), **_source_columns(r)})
            continue
        if dtype == "int16":
            w = np.round(np.clip(w, -1.0, 1.0) * 32767.0).astype(np.int16)
        index.append({"utterance_id": r["utterance_id"], "shard": shard, "offset": buf_len, "length": len(w),
                      "error": None, **_source_columns(r)})
        buf.append(w)
        buf_len += len(w)
        if buf_len >= shard_samples:
            flush()
        if progress is not None and (i % 500 == 0 or i == len(recs)):
            progress(i, len(recs))
    flush()
    idx = pd.DataFrame(index, columns=["utterance_id", "shard", "offset", "length", "error", *SOURCE_COLUMNS])
    idx = idx.astype({"start_s": "float64", "end_s": "float64"})
    idx.to_parquet(tmp / INDEX, index=False)
    (tmp / META).write_text(json.dumps({"dtype": dtype, "sample_rate": SAMPLE_RATE, "resampler": "soxr HQ",
                                        "n": len(idx), "failed": int((idx.length < 0).sum())}))
    return idx


def remove_stale_staging(out_dir: Path) -> list[Path]:
    """Remove the staging and swap folders of ``out_dir`` (``.<name>.tmp-<pid>-*``,
    ``.<name>.old-<pid>-*``) whose build process no longer exists; a live build's are kept."""
    pattern = re.compile(rf"^\.{re.escape(out_dir.name)}\.(?:tmp|old)-(\d+)-")
    removed = []
    for entry in out_dir.parent.iterdir() if out_dir.parent.is_dir() else []:
        m = pattern.match(entry.name)
        if m and entry.is_dir() and not entry.is_symlink() and not process_alive(int(m.group(1))):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
            log.info("removed %s, left by a build that was killed", entry)
    return removed


SOURCE_COLUMNS = ("path", "start_s", "end_s")


def _source_columns(row: Mapping) -> dict:
    return dict(zip(SOURCE_COLUMNS, clip_source(row), strict=True))


def clip_source(row: Mapping) -> tuple[str, float | None, float | None]:
    """What a table row's clip is decoded from: (path, start_s, end_s), None for no bound."""
    return str(row["path"]), optional_seconds(row.get("start_s")), optional_seconds(row.get("end_s"))


class AudioCache:
    """Reads clips from the cache folders of several corpora: memory-mapped shards in a local
    folder, or shards streamed by byte ranges through a node-local block cache when
    ``cache_root`` is a URL (``block_size`` bytes per block, kept under ``scratch``, default
    :func:`ser_pipeline.settings.scratch_dir`)."""

    def __init__(self, cache_root: str | Path, corpora: Iterable[str] | None = None, *,
                 block_size: int = DEFAULT_BLOCK_SIZE, scratch: str | Path | None = None):
        self.root = location(cache_root, "audio cache folder")
        # utterance id -> (corpus, shard, offset, length, source the clip was decoded from)
        self._where: dict[str, tuple[str, int, int, int, tuple[str, float | None, float | None]]] = {}
        self._scale: dict[str, float | None] = {}
        self._shards: dict[tuple[str, int], np.ndarray | RemoteShard] = {}
        self._versions: dict[str, str] = {}  # remote: shard URL -> ETag (from one listing per corpus)
        self.block_size = block_size
        if is_remote(self.root) and scratch is None:
            from ser_pipeline.settings import scratch_dir

            scratch = scratch_dir()
        self.scratch = scratch
        try:
            self._load_indexes(corpora)
        except OSError as exc:
            if not is_remote(self.root) or isinstance(exc, StorageError):
                raise
            raise StorageError(describe_error(str(self.root), exc)) from exc

    def _load_indexes(self, corpora: Iterable[str] | None) -> None:
        remote = is_remote(self.root)
        if corpora is not None:
            names = list(corpora)
        else:
            names = [p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")] \
                if self.root.is_dir() else []
        for name in names:
            folder = self.root / name
            if remote:  # one listing: is the index there (the commit marker), shard versions
                fs = folder.fs
                fs.invalidate_cache(folder.path)  # a rebuild since this process last listed it
                listed = {k.rsplit("/", 1)[-1]: v for k, v in fs.find(folder.path, detail=True).items()}
                if INDEX not in listed:
                    continue
                for fn, info in listed.items():
                    self._versions[str(folder / fn)] = str(info.get("ETag") or info.get("size"))
            elif not (folder / INDEX).exists():
                continue
            meta = json.loads(read_bytes(folder / META))
            self._scale[name] = 1.0 / 32767.0 if meta["dtype"] == "int16" else None
            idx = pd.read_parquet(io.BytesIO(read_bytes(folder / INDEX)))
            if not set(SOURCE_COLUMNS) <= set(idx.columns):
                log.warning("audio cache %s predates source checks: not used until it is rebuilt", folder)
                continue
            for uid, shard, off, n, *src in zip(idx.utterance_id, idx.shard, idx.offset, idx.length,
                                                *(idx[c] for c in SOURCE_COLUMNS), strict=True):
                if n >= 0:
                    source = clip_source(dict(zip(SOURCE_COLUMNS, src, strict=True)))
                    self._where[uid] = (name, int(shard), int(off), int(n), source)

    def __contains__(self, utterance_id: str) -> bool:
        return utterance_id in self._where

    def __len__(self) -> int:
        return len(self._where)

    def get(self, utterance_id: str) -> np.ndarray:
        """The clip as float32 at 16 kHz, shape (samples,)."""
        name, shard, off, n, _ = self._where[utterance_id]
        key = (name, shard)
        if key not in self._shards:
            path = self.root / name / f"shard_{shard:05d}.npy"
            self._shards[key] = RemoteShard(str(path), self._versions.get(str(path), ""), self.scratch,
                                            self.block_size) if is_remote(path) else np.load(path, mmap_mode="r")
        x = np.asarray(self._shards[key][off: off + n])
        scale = self._scale[name]
        return x.astype(np.float32) * np.float32(scale) if scale else x.astype(np.float32, copy=True)

    def clip(self, row: Mapping) -> np.ndarray | None:
        """The clip of a table row (float32 at 16 kHz, shape (samples,)), or None when the cache
        does not hold its utterance id or holds it decoded from another source (stale)."""
        where = self._where.get(row["utterance_id"])
        if where is None or where[4] != clip_source(row):
            return None
        return self.get(row["utterance_id"])

    def __getstate__(self):  # DataLoader workers re-open their own memory maps / remote files
        state = self.__dict__.copy()
        state["_shards"] = {}
        return state


def cache_roots(cache_root: str | Path, corpus_roots: Mapping[str, str | Path]) -> AudioCache | None:
    """An :class:`AudioCache` over the corpora that have a cache, or None if none has."""
    cache = AudioCache(cache_root, corpus_roots.keys())
    return cache if len(cache) else None
