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

A local rebuild swaps the whole corpus folder (a rename), and a reader opens shards lazily, so a
reader that loaded the old index must not open the new build's shard of the same name: it keeps
the identity (device, inode) of the folder it read the index from, checks it again after opening
each shard, and on a change stops serving that corpus (the original files are decoded instead,
with one warning). Shards it had already mapped stay valid: a mapping outlives the rename.

The cache may live on object storage (``out_dir``/``cache_root`` an ``s3://`` URL or ``UPath``),
laid out as immutable objects plus one pointer object::

    <cache>/<corpus>/builds/<build id>/index.parquet, shard_00000.npy, cache.json
                                        one build, written once, never replaced: byte for byte
                                        the files of a local build
    <cache>/<corpus>/CURRENT            the pointer: the text ``builds/<build id>``

A build decodes into a local scratch folder (:func:`ser_pipeline.settings.scratch_dir`), uploads
its files into a fresh build folder (``<UTC time>-<uuid4 hex>``, never reused), checks with one
listing that they are all there, and PUTs the pointer LAST: a reader sees the old build or the
whole new one, and the folder a pointer names is complete. Two builds racing each produce a
self-consistent cache and the last pointer PUT wins; a reader that loaded an older index keeps
reading its own shards, which nothing overwrites. After its PUT a build removes the build folders
that neither it nor the pointer then in the store names and whose newest object is older than
:data:`BUILD_GRACE_S`, so a reader of an older index has that long to finish, and a build must
upload within it (one that ran longer fails before writing its pointer if its folder was
collected). Without a pointer the cache is read from the flat layout (index, shards and meta
file in the corpus folder: a local cache, and a remote one written before build folders); a
remote flat layout's objects are collected like an unnamed build's once a pointer exists.
Readers stream shard byte ranges through a node-local block cache
(:mod:`ser_pipeline.audio.remote_shard`), opened lazily in each process.
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
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from ser_pipeline.audio import SAMPLE_RATE
from ser_pipeline.audio.io import AudioDecodeError, load_clip, optional_seconds
from ser_pipeline.audio.remote_shard import DEFAULT_BLOCK_SIZE, RemoteShard
from ser_pipeline.locks import exclusive
from ser_pipeline.procs import process_alive
from ser_pipeline.storage import (StorageError, check_access, describe_error, forget_listing, is_remote, location,
                                  put_file, read_bytes, write_bytes)

log = logging.getLogger(__name__)

SHARD_SAMPLES = 16000 * 3600  # one hour of audio per shard
INDEX = "index.parquet"
META = "cache.json"
BUILDS = "builds"  # remote: <corpus>/builds/<build>/ holds one build's index, shards and meta file
POINTER = "CURRENT"  # remote: <corpus>/CURRENT names the build folder in use; written last
#: seconds an unnamed build folder is kept after its newest object was written: a reader that
#: loaded an older index has this long to finish with its shards, and a build this long to upload
BUILD_GRACE_S = 24 * 3600
_BUILD_NAME = re.compile(rf"{BUILDS}/[A-Za-z0-9_-]+")
_FLAT_OBJECT = re.compile(rf"shard_\d+\.npy|{re.escape(META)}|{re.escape(INDEX)}")  # the flat layout: all in the corpus folder


class StaleCacheError(RuntimeError):
    """A local cache folder was rebuilt (swapped) after its index was loaded by this reader."""


def _folder_identity(folder: Path) -> tuple[int, int] | None:
    """(device, inode) of a local folder, or None when nothing is there (mid-swap)."""
    try:
        st = os.stat(folder)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def build_corpus_cache(rows: pd.DataFrame, corpus_root: str | Path, out_dir: str | Path, *,
                       dtype: str = "int16", shard_samples: int = SHARD_SAMPLES,
                       progress: Callable[[int, int], None] | None = None,
                       holder: str | None = None, on_wait: Callable[[str], None] | None = None,
                       grace_s: float | None = None) -> pd.DataFrame:
    """Decode every row of one corpus into shards under ``out_dir``; returns the index.

    Rows whose audio cannot be decoded, or whose file resolves outside ``corpus_root`` (a symlink
    swapped since the scan), are listed in the returned index with ``length = -1`` and an
    ``error`` text (nothing is dropped silently).

    Builders of one ``out_dir`` take turns (a lock file ``.<name>.lock`` next to it; ``holder`` is
    what a waiting builder is told, through ``on_wait``). Each build writes into its own staging
    folder ``.<name>.tmp-<pid>-<random>`` that is renamed into place, so an interrupted build leaves
    the previous cache intact; staging folders of builds whose process is gone are removed first.
    A full disk raises ``OSError`` "no space left on <folder>" after removing the staging folder.

    On object storage there is no lock: each build writes a fresh build folder and the pointer last
    (module docstring); ``grace_s`` (default :data:`BUILD_GRACE_S`) is how old an unnamed build
    folder must be before this build removes it.
    """
    if dtype not in ("int16", "float32"):
        raise ValueError(f"cache dtype must be int16 or float32, not {dtype!r}")
    if is_remote(dest := location(out_dir, "audio cache folder")):
        return _build_remote(rows, corpus_root, dest, dtype, shard_samples, progress,
                             BUILD_GRACE_S if grace_s is None else grace_s)
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
                  progress: Callable[[int, int], None] | None, grace_s: float) -> pd.DataFrame:
    """:func:`build_corpus_cache` into object storage: decode into a scratch folder, upload its
    files into a fresh build folder, check they are all there, PUT the pointer naming that folder
    last, then collect unnamed build folders older than ``grace_s``."""
    from ser_pipeline.settings import scratch_dir

    check_access(dest)  # a missing bucket or bad credentials fail before any decoding
    build = new_build_name()
    tmp = Path(tempfile.mkdtemp(dir=scratch_dir(), prefix="cache-build-"))
    try:
        idx = _write_cache(rows, corpus_root, tmp, dtype, shard_samples, progress)
        names = sorted(p.name for p in tmp.iterdir())
        for name in names:
            put_file(tmp / name, dest / build / name)
        _check_uploaded(dest / build, names, grace_s)
        write_bytes(dest / POINTER, f"{build}\n".encode())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    collect_builds(dest, build, grace_s)
    return idx


def new_build_name() -> str:
    """A build folder name never used before, ``builds/<UTC time>-<uuid4 hex>`` (the time only
    makes listings readable; the uuid makes it unique)."""
    return f"{BUILDS}/{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{uuid.uuid4().hex}"


def read_pointer(data: bytes, where: str) -> str:
    """The build folder (``builds/<name>``, relative to the cache folder) a pointer object names;
    anything else is a ``ValueError`` naming ``where``."""
    build = data.decode(errors="replace").strip()
    if not _BUILD_NAME.fullmatch(build):
        raise ValueError(f"{where}: names {build!r}, not a build folder {BUILDS}/<name>")
    return build


def _listing(folder, *, maxdepth: int | None = None) -> dict[str, dict]:
    """Object key -> listing details below the remote ``folder``, fresh from the store (one LIST
    per thousand objects); an absent folder is empty."""
    fs = folder.fs
    forget_listing(fs, folder.path)  # another process may have written or removed objects since
    try:
        return fs.find(folder.path, maxdepth=maxdepth, detail=True)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise StorageError(describe_error(str(folder), exc)) from exc


def _check_uploaded(folder, names: list[str], grace_s: float) -> None:
    """Raise :class:`StorageError` unless every object ``names`` is under ``folder`` (one listing):
    a build that ran past the grace period may have had its folder collected by another build."""
    have = {k.rsplit("/", 1)[-1] for k in _listing(folder)}
    missing = [n for n in names if n not in have]
    if missing:
        raise StorageError(f"{folder}: {len(missing)} of the {len(names)} objects this build uploaded are gone "
                           f"({missing[0]}...): another build removed the folder after the grace period of "
                           f"{grace_s:g} s; its pointer was not written, build the cache again")


def collect_builds(dest, keep: str, grace_s: float | None = None) -> list[str]:
    """Remove the build folders under the remote cache folder ``dest`` that neither ``keep`` (the
    build just committed) nor the pointer now in the store names, and whose newest object is at
    least ``grace_s`` seconds (default :data:`BUILD_GRACE_S`) older than that pointer; the flat
    layout's index, shards and meta file count as one such folder. Ages are measured on the store's
    clock (object times against the pointer's), not this machine's. Returns what was removed."""
    grace_s = BUILD_GRACE_S if grace_s is None else grace_s
    fs, base = dest.fs, dest.path.rstrip("/")
    found = _listing(dest)
    pointer = found.get(f"{base}/{POINTER}")
    now = pointer.get("LastModified") if pointer else None
    now = now or datetime.now(timezone.utc)
    spare = {keep}
    if pointer is not None:  # another build's pointer may have landed after ours: its folder stays
        try:
            spare.add(read_pointer(fs.cat_file(f"{base}/{POINTER}"), str(dest / POINTER)))
        except (FileNotFoundError, ValueError):
            pass
    groups: dict[str, list[tuple[str, datetime]]] = {}
    for key, info in found.items():
        parts = key[len(base) + 1:].split("/")
        if len(parts) >= 3 and parts[0] == BUILDS:
            group = f"{BUILDS}/{parts[1]}"
        elif len(parts) == 1 and _FLAT_OBJECT.fullmatch(parts[0]):
            group = ""
        else:
            continue  # the index, or something this module did not write
        groups.setdefault(group, []).append((key, info.get("LastModified") or now))
    removed = []
    for group, objects in sorted(groups.items()):
        if group in spare or (now - max(t for _, t in objects)).total_seconds() < grace_s:
            continue
        try:
            fs.rm([k for k, _ in objects])
        except OSError as exc:
            raise StorageError(describe_error(str(dest / group), exc)) from exc
        removed.append(group or ".")
        log.info("removed %s (%d objects): an audio cache build no index names, older than %g s",
                 dest / group if group else f"{dest} (flat layout)", len(objects), grace_s)
    return removed


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
        self._dirs: dict[str, object] = {}  # corpus -> the folder its index's shards are in
        # local: corpus -> (device, inode) of the folder its index was read from (module docstring)
        self._identity: dict[str, tuple[int, int]] = {}
        self._stale: set[str] = set()  # local corpora rebuilt since their index was loaded
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
        if corpora is not None:
            names = list(corpora)
        else:
            names = [p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")] \
                if self.root.is_dir() else []
        for name in names:
            folder = self.root / name
            try:  # the pointer first (one GET): the commit marker, naming the build folder
                build = read_pointer(read_bytes(folder / POINTER), str(folder / POINTER))
            except FileNotFoundError as exc:
                if is_remote(folder) and not describe_error("", exc).endswith("no such object or prefix"):
                    raise  # a missing bucket is the store's error, not a corpus without a cache
                build = ""  # the flat layout: a local cache, or a remote one from before build folders
            except ValueError as exc:
                log.warning("audio cache %s not used: %s", folder, exc)
                continue
            shards = folder / build if build else folder
            identity = None if is_remote(shards) else _folder_identity(shards)
            try:
                idx = pd.read_parquet(io.BytesIO(read_bytes(shards / INDEX)))
            except FileNotFoundError:
                if build:
                    log.warning("audio cache %s not used: its pointer names %s, which has no index; clips are "
                                "decoded from the corpus until it is rebuilt", folder, build)
                continue
            if not set(SOURCE_COLUMNS) <= set(idx.columns):
                log.warning("audio cache %s predates source checks: not used until it is rebuilt", folder)
                continue
            if is_remote(folder) and not self._list_shards(shards, idx):
                continue
            meta = json.loads(read_bytes(shards / META))
            if not is_remote(shards):
                if identity is None or _folder_identity(shards) != identity:  # swapped while being read
                    log.warning("audio cache %s not used: it was rebuilt while its index was read; clips are "
                                "decoded from the corpus", folder)
                    continue
                self._identity[name] = identity
            self._dirs[name] = shards
            self._scale[name] = 1.0 / 32767.0 if meta["dtype"] == "int16" else None
            for uid, shard, off, n, *src in zip(idx.utterance_id, idx.shard, idx.offset, idx.length,
                                                *(idx[c] for c in SOURCE_COLUMNS), strict=True):
                if n >= 0:
                    source = clip_source(dict(zip(SOURCE_COLUMNS, src, strict=True)))
                    self._where[uid] = (name, int(shard), int(off), int(n), source)

    def _list_shards(self, shards, idx: pd.DataFrame) -> bool:
        """Record the versions (ETags) of the remote shards of one index from one listing of their
        folder; False (with a warning) when an object the index needs is not there."""
        listed = {k.rsplit("/", 1)[-1]: v for k, v in _listing(shards, maxdepth=1).items()}
        need = [META, *(f"shard_{s:05d}.npy" for s in sorted(set(idx.shard[idx.length >= 0])))]
        missing = [n for n in need if n not in listed]
        # only when a build ran past the grace period and its folder was collected between its check
        # and its pointer PUT: then no cache, rather than a reader failing on the first missing shard
        if missing:
            log.warning("audio cache %s not used: %d of the objects its index needs are gone (%s...); clips are "
                        "decoded from the corpus until it is rebuilt", shards, len(missing), missing[0])
            return False
        for fn, info in listed.items():
            self._versions[str(shards / fn)] = str(info.get("ETag") or info.get("size"))
        return True

    def __contains__(self, utterance_id: str) -> bool:
        return utterance_id in self._where

    def __len__(self) -> int:
        return len(self._where)

    def get(self, utterance_id: str) -> np.ndarray:
        """The clip as float32 at 16 kHz, shape (samples,).

        Raises :class:`StaleCacheError` when the clip's shard is not mapped yet and its local
        corpus folder was rebuilt since the index was loaded (its shards no longer match it)."""
        name, shard, off, n, _ = self._where[utterance_id]
        key = (name, shard)
        if key not in self._shards:
            path = self._dirs[name] / f"shard_{shard:05d}.npy"
            if is_remote(path):
                self._shards[key] = RemoteShard(str(path), self._versions.get(str(path), ""), self.scratch,
                                                self.block_size)
            else:
                self._shards[key] = self._open_local(name, path)
        x = np.asarray(self._shards[key][off: off + n])
        scale = self._scale[name]
        return x.astype(np.float32) * np.float32(scale) if scale else x.astype(np.float32, copy=True)

    def _open_local(self, name: str, path: Path) -> np.ndarray:
        """Map a local shard, then check that its folder is still the one the index came from: a
        folder unchanged after the open means the file opened is that build's."""
        stale = StaleCacheError(f"{self._dirs[name]}: rebuilt since this reader loaded its index")
        if name in self._stale:
            raise stale
        try:
            shard = np.load(path, mmap_mode="r")
        except FileNotFoundError:
            shard = None
        if _folder_identity(self._dirs[name]) != self._identity[name]:
            self._stale.add(name)
            log.warning("audio cache %s was rebuilt after this reader loaded its index: its clips are decoded "
                        "from the corpus from here on", self._dirs[name])
            raise stale
        if shard is None:
            raise FileNotFoundError(f"{path}: shard named by the cache index is missing")
        return shard

    def clip(self, row: Mapping) -> np.ndarray | None:
        """The clip of a table row (float32 at 16 kHz, shape (samples,)), or None when the cache
        does not hold its utterance id, holds it decoded from another source (stale), or its local
        folder was rebuilt since this reader loaded the index (module docstring)."""
        where = self._where.get(row["utterance_id"])
        if where is None or where[4] != clip_source(row):
            return None
        try:
            return self.get(row["utterance_id"])
        except StaleCacheError:
            return None

    def __getstate__(self):  # DataLoader workers re-open their own memory maps / remote files
        state = self.__dict__.copy()
        state["_shards"] = {}
        return state


def cache_roots(cache_root: str | Path, corpus_roots: Mapping[str, str | Path]) -> AudioCache | None:
    """An :class:`AudioCache` over the corpora that have a cache, or None if none has."""
    cache = AudioCache(cache_root, corpus_roots.keys())
    return cache if len(cache) else None
