"""Where files live: a local folder or object storage (any fsspec protocol), behind one small API.

A root setting is either a local path (``/data``, ``file:///data``) and becomes a
:class:`pathlib.Path`, or a URL (``s3://bucket/prefix``, ``gs://...``) and becomes a
:class:`upath.UPath` over fsspec. A URL is never turned into a local path: ``Path("s3://b/x")``
would quietly be the folder ``./s3:/b/x``.

Credentials and endpoints are never set here: fsspec and botocore read the standard variables
(``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ...) and a run config may
add ``storage_options``. Filesystem objects are made where they are used, in each process (fsspec
caches one per process and protocol, and drops its cache after a fork), so a worker never inherits
a connection from its parent.

Readers walk an object-storage corpus with one listing (:func:`list_files`, fsspec ``find``) that
also fills fsspec's listing cache, so the ``exists()``/``is_file()``/``glob()`` calls a reader makes
on a :class:`UPath` afterwards cost no request; an audio header is probed with one ranged GET
(:func:`open_for_probe`, size taken from the listing).
"""

from __future__ import annotations

import io
import os
import re
import urllib.parse
import urllib.request
from collections.abc import Iterable
from pathlib import Path, PurePath
from typing import Any, NamedTuple

#: ``scheme:/`` at the start of a root (``str(Path("s3://b"))`` keeps one slash; two letters at
#: least, so ``C:/data`` stays a path)
_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]+):/")

#: bytes fetched by the first read of an object opened for a header probe: a WAV/FLAC header
#: and, for PCM, everything a probe needs, in one GET
PROBE_BLOCK_BYTES = 1 << 16

#: header GETs one probing process keeps in flight (fsspec's async batch, a sliding window).
#: botocore's connection pool (``max_pool_connections``: 10 unless the ``config_kwargs`` of
#: ``storage_options`` say otherwise) caps how many of them are on the wire at once
PROBE_REQUESTS_IN_FLIGHT = 16

#: a path on this machine (``pathlib.Path``) or an object-storage location (``upath.UPath``)
StoragePath = Any


class StorageError(RuntimeError):
    """Object storage could not be used: the message names the URL and the cause (missing bucket,
    rejected credentials, unreachable endpoint, permission denied)."""


def is_url(value: str | PurePath) -> bool:
    """True when ``value`` is an object-storage URL (``s3://``, ``gs://``, ...; not ``file://``)."""
    m = _URL.match(str(value))
    return m is not None and m["scheme"].lower() not in ("file", "local")


#: fsspec protocols of this machine's own files (a ``UPath`` with one of them is a local path)
_LOCAL_PROTOCOLS = ("", "file", "local")


def is_remote(path: str | PurePath | StoragePath) -> bool:
    """True for an object-storage location: a ``UPath`` of a protocol other than a local one, or a
    URL string (``s3://b/x``; :func:`is_url`). False for a ``pathlib`` path, a local ``UPath``
    (``UPath("file:///x")``) and any other string (``"data"``, ``"C:/data"``)."""
    if isinstance(path, PurePath):  # PosixUPath (``UPath("/x")``) is one too
        return False
    if isinstance(path, str):
        return is_url(path)
    from upath import UPath

    return isinstance(path, UPath) and path.protocol not in _LOCAL_PROTOCOLS


def as_root(value: str | PurePath, setting: str, storage_options: dict | None = None) -> StoragePath:
    """The location a root setting names: an absolute ``Path`` for a path or ``file://`` URL, a
    ``UPath`` for any other URL (``storage_options`` go to its fsspec filesystem).

    A ``file://`` URL naming another host, or a protocol fsspec does not know / whose package is
    not installed, is a ``ValueError`` naming ``setting`` and the value."""
    text = str(value)
    m = _URL.match(text)
    if m is None:
        return Path(text).expanduser().resolve()
    scheme = m["scheme"].lower()
    if scheme in ("file", "local"):
        url = urllib.parse.urlsplit(text)
        if url.netloc in ("", "localhost"):
            return Path(urllib.request.url2pathname(url.path)).resolve()
        raise ValueError(f"{setting}={text}: a file:// URL must name a path on this machine (file:///abs/path)")
    if not text.startswith(f"{m['scheme']}://"):  # s3:/b/x: a URL that went through Path() once
        raise ValueError(f"{setting}={text}: malformed URL (expected {scheme}://bucket/prefix)")
    from fsspec.registry import known_implementations
    from upath import UPath

    if scheme not in known_implementations:
        raise ValueError(f"{setting}={text}: fsspec knows no protocol {scheme!r}")
    try:
        return UPath(text.rstrip("/"), **(storage_options or {}))
    except ImportError as exc:
        raise ValueError(f"{setting}={text}: the package for {scheme}:// is not installed ({exc})") from None


def fs_and_path(path: StoragePath):
    """``(fsspec filesystem, path inside it)`` of a location (a local path gets fsspec's local one)."""
    if is_remote(path):
        return path.fs, path.path
    import fsspec

    return fsspec.filesystem("file"), str(path)


def describe_error(url: str, exc: BaseException) -> str:
    """One line naming ``url`` and what went wrong, from an fsspec / botocore exception."""
    text = str(exc) or type(exc).__name__
    name = type(exc).__name__
    low = text.lower()
    if "bucket does not exist" in low or "nosuchbucket" in low:
        cause = "the bucket does not exist"
    elif name in ("NoCredentialsError", "PartialCredentialsError"):
        cause = "no credentials found (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or storage_options)"
    elif "invalidaccesskeyid" in low or "signaturedoesnotmatch" in low or "access key" in low:
        cause = f"the credentials were rejected ({text})"
    elif isinstance(exc, PermissionError) or "accessdenied" in low or "forbidden" in low:
        cause = f"permission denied ({text})"
    elif name in ("EndpointConnectionError", "ConnectTimeoutError", "ConnectionClosedError") \
            or "could not connect" in low or "connection refused" in low or "connect timeout" in low:
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or "the default endpoint"
        cause = f"the endpoint is unreachable ({endpoint}: {text})"
    elif isinstance(exc, FileNotFoundError):
        cause = "no such object or prefix"
    else:
        cause = f"{name}: {text}"
    return f"{url}: {cause}"


def check_access(path: StoragePath, *, must_exist: bool = False) -> bool:
    """Make one cheap request to ``path``'s store; True if it holds anything at ``path``.

    Raises :class:`StorageError` (URL and cause) when the bucket is missing, the credentials are
    rejected, the endpoint is unreachable or access is denied, so a run stops at the first step that
    touches the store, before any expensive work. With ``must_exist`` an empty prefix is an error too.
    A local path: ``path.exists()``.

    Object storage: one LIST of the prefix for a root that holds something; a second one, of the
    bucket, only when the prefix is empty or missing, to tell that from a missing bucket."""
    if not is_remote(path):
        return path.exists()
    fs = path.fs
    bucket = path.path.split("/", 1)[0]
    try:
        forget_listing(fs, path.path)  # another process may have written there since
        try:  # one LIST (a HEAD first, as exists() does, would cost a request per root)
            found = bool(fs.ls(path.path, refresh=True))
        except FileNotFoundError:  # no such prefix, or no such bucket
            found = False
        if not found:  # raises for a missing bucket (or one these credentials may not list). Not
            # refreshed: the only listing of the bucket cached now is one this check just made
            # (s3fs lists the parent of an empty prefix), forget_listing dropped any older one
            fs.ls(bucket)
    except Exception as exc:  # fsspec maps botocore errors to OSError subclasses, not all of them
        raise StorageError(describe_error(str(path), exc)) from exc
    if must_exist and not found:
        raise StorageError(f"{path}: no such object or prefix")
    return found


def forget_listing(fs, base: str) -> None:
    """Drop fsspec's cached listings of ``base``, its parents and everything below it.

    ``invalidate_cache(base)`` keeps the listings below ``base``, and s3fs's ``find`` stops
    filling a folder's listing at the first subfolder it already has cached, so a second ``find``
    in one process left ``base`` listed without its subfolders (a reader then saw no files)."""
    fs.invalidate_cache(base)
    below = base.rstrip("/") + "/"
    for key in [k for k in fs.dircache if k.startswith(below)]:
        fs.dircache.pop(key, None)


class Listed(NamedTuple):
    """One file of a listing: where it is, its size (bytes) and its version tag (an object's
    ETag or version id; a local file's mtime in ns)."""

    path: StoragePath
    size: int
    tag: str


def list_files(root: StoragePath, suffixes: Iterable[str] | None = None) -> list[Listed]:
    """Every file below ``root`` (``suffixes``: only names ending so, case-insensitive), sorted by
    path parts so the order never depends on the store; hidden AppleDouble files (``._*``) skipped.

    Object storage: one ``find`` (a few LIST requests per thousand objects), which refreshes and
    fills fsspec's listing cache for the reader's later ``exists()``/``glob()`` calls. Local: a walk."""
    want = tuple(s.lower() for s in suffixes) if suffixes is not None else None
    out: list[Listed] = []
    if is_remote(root):
        fs = root.fs
        base = root.path.rstrip("/")
        try:
            found = fs.find(base, detail=True)
        except Exception as exc:
            raise StorageError(describe_error(str(root), exc)) from exc
        _fill_listing_cache(fs, base, found)
        for key, info in found.items():
            name = key.rsplit("/", 1)[-1]
            if info.get("type") == "directory" or name.startswith("._"):
                continue
            if want is not None and not name.lower().endswith(want):
                continue
            tag = str(info.get("VersionId") or info.get("ETag") or info.get("etag") or info.get("mtime") or "")
            out.append(Listed(root / key[len(base) + 1:], int(info.get("size") or 0), tag))
        return sorted(out, key=lambda f: f.path.parts)
    for dirpath, _dirnames, filenames in os.walk(root, followlinks=False):
        for fn in filenames:
            if fn.startswith("._") or (want is not None and not fn.lower().endswith(want)):
                continue
            p = Path(dirpath) / fn
            try:
                st = p.stat()
            except OSError:  # a broken link: listed, the reader rejects it
                out.append(Listed(p, -1, "broken"))
                continue
            out.append(Listed(p, st.st_size, str(st.st_mtime_ns)))
    return sorted(out, key=lambda f: f.path.parts)


def _fill_listing_cache(fs, base: str, found: dict[str, dict]) -> None:
    """Replace fsspec's cached listings below ``base`` with complete ones built from one ``find``.

    fsspec answers ``ls``/``exists``/``info``/``glob``/``walk`` from ``fs.dircache`` when a folder
    is in it (a file missing from a cached folder is a ``FileNotFoundError`` without a request).
    s3fs's own ``find`` caches only folders that hold files directly, so an intermediate folder
    (``ravdess/Audio_Speech_Actors_01-24``) would be listed with some children missing; every
    level is built here instead, from the same listing, and stale entries below ``base`` dropped."""
    listing: dict[str, dict[str, dict]] = {base: {}}
    for key, info in found.items():
        key = key.rstrip("/")
        is_dir = info.get("type") == "directory"
        child = key
        if not is_dir:
            listing.setdefault(key.rsplit("/", 1)[0], {})[key] = info
            child = key.rsplit("/", 1)[0]
        elif key != base:
            listing.setdefault(key, {})
        while len(child) > len(base):  # every folder between the object and the root
            parent = child.rsplit("/", 1)[0]
            listing.setdefault(parent, {}).setdefault(child, {
                "Key": child, "Size": 0, "name": child, "size": 0, "type": "directory", "StorageClass": "DIRECTORY"})
            listing.setdefault(child, {})
            child = parent
    forget_listing(fs, base)
    if found:  # an empty prefix is no folder: leave it to fsspec to say so
        for folder, entries in listing.items():
            fs.dircache[folder] = list(entries.values())


class RemoteFile(NamedTuple):
    """An object to probe in a worker process: its URL, size from the listing (bytes; -1 unknown)
    and the filesystem options, so the worker builds its own filesystem."""

    url: str
    size: int
    storage_options: dict

    def __str__(self) -> str:
        return self.url


def open_for_probe(url: str, size: int = -1, storage_options: dict | None = None):
    """An object opened for reading a header: the first read fetches :data:`PROBE_BLOCK_BYTES` in
    one ranged GET; with ``size`` known (from the listing) no HEAD request is made."""
    import fsspec

    fs, path = fsspec.core.url_to_fs(url, **(storage_options or {}))
    kwargs = {"size": size} if size >= 0 else {}
    return fs.open(path, "rb", block_size=PROBE_BLOCK_BYTES, cache_type="readahead", **kwargs)


def fetch_heads(files: list[RemoteFile], nbytes: int = PROBE_BLOCK_BYTES,
                in_flight: int | None = None) -> list[bytes | FileNotFoundError]:
    """The first ``nbytes`` of each object (all of a smaller one), fetched concurrently: one ranged
    GET per object, at most ``in_flight`` (default :data:`PROBE_REQUESTS_IN_FLIGHT`) at once per
    filesystem; an empty object costs none.

    Sizes come from the listing (``RemoteFile.size`` must be known, >= 0). An object gone since
    the listing is its :class:`FileNotFoundError`, in its place; any other failure is the store's,
    not the file's, and raises :class:`StorageError` naming the first such URL and its cause."""
    import fsspec

    out: list[bytes | FileNotFoundError] = [b""] * len(files)
    groups: dict[int, tuple[Any, list[tuple[int, str, int]]]] = {}  # one batch per filesystem
    for i, f in enumerate(files):
        if f.size < 0:
            raise ValueError(f"{f.url}: size unknown (fetch_heads needs the size from the listing)")
        if f.size == 0:
            continue
        fs, path = fsspec.core.url_to_fs(f.url, **f.storage_options)
        groups.setdefault(id(fs), (fs, []))[1].append((i, path, min(f.size, nbytes)))
    for fs, items in groups.values():
        paths = [p for _, p, _ in items]
        ends = [e for _, _, e in items]
        kwargs = {"batch_size": in_flight or PROBE_REQUESTS_IN_FLIGHT} if getattr(fs, "async_impl", False) else {}
        try:
            got = fs.cat_ranges(paths, [0] * len(paths), ends, on_error="return", **kwargs)
        except Exception as exc:  # a filesystem that raises for the whole batch
            raise StorageError(describe_error(files[items[0][0]].url, exc)) from exc
        for (i, _, _), data in zip(items, got, strict=True):
            if isinstance(data, FileNotFoundError):
                out[i] = data
            elif isinstance(data, BaseException):
                raise StorageError(describe_error(files[i].url, data)) from data
            else:
                out[i] = bytes(data)
    return out


class HeadFile(io.RawIOBase):
    """An object of known ``size`` read through a buffer of its first bytes (``head``, from
    :func:`fetch_heads`): reads inside ``head`` cost no request, a read past it opens the object
    through fsspec (:func:`open_for_probe`: ranged GETs from there on).

    The size is the object's, not ``len(head)``: libsndfile clips a WAV's data length to the
    length it is told, so a buffer of the head alone would give a short frame count."""

    def __init__(self, url: str, size: int, head: bytes, storage_options: dict | None = None):
        super().__init__()
        self.url = url
        self._size = size
        self._head = head
        self._options = storage_options
        self._pos = 0
        self._rest = None  # the fsspec file, opened on the first read past ``head``
        #: the store's error met by a read past ``head``; that read ends short instead of raising.
        #: libsndfile calls ``readinto`` through cffi, which would print the exception and return
        #: 0 anyway, so the caller must check this after parsing and raise it instead of blaming
        #: the file for a short read.
        self.failure: Exception | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError(f"{self.url}: negative seek position {base + offset}")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        want = max(0, min(len(view), self._size - self._pos))
        got = 0
        if self._pos < len(self._head):
            got = min(want, len(self._head) - self._pos)
            view[:got] = self._head[self._pos:self._pos + got]
        while got < want:  # past the head: the object itself
            try:
                if self._rest is None:
                    self._rest = open_for_probe(self.url, self._size, self._options)
                self._rest.seek(self._pos + got)
                data = self._rest.read(want - got)
            except Exception as exc:  # botocore's errors are not all OSError; kept, the read ends short
                self.failure = self.failure or exc
                break
            if not data:
                break
            view[got:got + len(data)] = data
            got += len(data)
        self._pos += got
        return got

    def close(self) -> None:
        if self._rest is not None:
            self._rest.close()
            self._rest = None
        super().close()


def read_bytes(path: StoragePath) -> bytes:
    """The bytes of one file (one GET on object storage).

    A missing file is a ``FileNotFoundError``; any other failure of an object (a policy that may
    list but not read, an unreachable endpoint) is a :class:`StorageError` naming its URL and the
    cause, where s3fs's own ``PermissionError("Access Denied")`` names neither."""
    try:
        return path.read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        raise
    except OSError as exc:
        if is_remote(path):
            raise StorageError(describe_error(str(path), exc)) from exc
        raise


def location(value: str | PurePath | StoragePath, setting: str = "path") -> StoragePath:
    """``value`` as a location: a ``Path``/``UPath`` passes through, a URL string goes through
    :func:`as_root` (so ``s3://...`` never becomes a local folder), any other string is ``Path(value)``
    as given (not resolved: local behaviour stays exactly as before URLs were accepted)."""
    if not isinstance(value, str):  # a Path or UPath already
        return value
    return as_root(value, setting) if is_url(value) or str(value).startswith("file:") else Path(value)


def write_bytes(path: StoragePath, data: bytes) -> None:
    """Write ``data`` so that a reader sees the old file or all of the new one: locally a
    temporary file, fsynced and renamed; on object storage one PUT (objects appear whole)."""
    if is_remote(path):
        try:
            path.write_bytes(data)
        except OSError as exc:
            raise StorageError(describe_error(str(path), exc)) from exc
        return
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def put_file(local: Path, dest: StoragePath) -> None:
    """Upload the local file ``local`` to the object ``dest`` (one PUT; s3fs switches to a
    multipart upload for large files, which also appears whole or not at all)."""
    fs, path = fs_and_path(dest)
    try:
        fs.put_file(str(local), path)
    except OSError as exc:
        raise StorageError(describe_error(str(dest), exc)) from exc


def put_folder(local: Path, dest: StoragePath, *, last: str) -> None:
    """Upload the files of the local folder ``local`` (flat) under ``dest``, the file named
    ``last`` after all others: it is the commit marker a reader checks, so a folder whose upload
    was cut short is never taken for a whole one. The old marker is removed first, and objects
    under ``dest`` that ``local`` does not hold are removed before the new marker is written."""
    fs, path = fs_and_path(dest)
    try:
        fs.rm_file(f"{path}/{last}")
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise StorageError(describe_error(str(dest), exc)) from exc
    names = sorted(p.name for p in local.iterdir() if p.is_file())
    for name in [n for n in names if n != last]:
        put_file(local / name, dest / name)
    try:  # objects of an older upload that this one does not replace (e.g. a shard fewer)
        stale = [k for k in fs.find(path) if k.rsplit("/", 1)[-1] not in names]
        if stale:
            fs.rm(stale)
    except OSError as exc:
        raise StorageError(describe_error(str(dest), exc)) from exc
    put_file(local / last, dest / last)


def local_copy(value: str | PurePath | StoragePath, scratch: Path | None = None) -> Path:
    """A local path holding ``value``: a local path as it is, an object or folder on object
    storage downloaded once into ``<scratch>/copies/<hash of the URL>`` (for libraries that only
    read local files: safetensors, MLflow's ``log_artifacts``, the model registry).

    The copy is made in a temporary folder and renamed into place, so a copy cut short is never
    reused; an existing complete copy is reused (exports and checkpoints are never rewritten
    under the same URL). ``scratch`` defaults to :func:`ser_pipeline.settings.scratch_dir`."""
    import hashlib
    import shutil
    import tempfile

    loc = location(value)
    if not is_remote(loc):
        return Path(loc)
    if scratch is None:
        from ser_pipeline import settings

        scratch = settings.scratch_dir()
    url = str(loc).rstrip("/")
    dest = scratch / "copies" / hashlib.sha256(url.encode()).hexdigest()[:16] / url.rsplit("/", 1)[-1]
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=".copy-"))
    fs, path = loc.fs, loc.path
    try:
        if fs.isdir(path):
            for key in fs.find(path):
                target = tmp / "x" / key[len(path.rstrip("/")) + 1:]
                target.parent.mkdir(parents=True, exist_ok=True)
                fs.get_file(key, str(target))
        else:
            fs.get_file(path, str(tmp / "x"))
        try:
            os.replace(tmp / "x", dest)
        except OSError:  # another process finished the same copy first
            if not dest.exists():
                raise
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise StorageError(describe_error(url, exc)) from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


__all__ = ["local_copy", "PROBE_BLOCK_BYTES", "Listed", "RemoteFile", "StorageError", "StoragePath", "as_root", "check_access",
           "describe_error", "fs_and_path", "is_remote", "is_url", "list_files", "location",
           "open_for_probe", "put_file", "put_folder", "read_bytes", "write_bytes",
           "PROBE_REQUESTS_IN_FLIGHT", "HeadFile", "fetch_heads"]
