"""A corpus folder's fingerprint: the data version Dagster observes to know what changed.

Audio files contribute (relative path, size, mtime in ns) — cheap for 100k files. Every other
file (label/annotation files: CSV, TXT, JSON, HDF5 ...) contributes its content hash, so an
edited label that keeps its size and mtime is still seen.

On object storage the listing is the source (one ``find``: a LIST request per 1,000 objects):
audio contributes (relative path, size, ETag or version id), label files their content hash,
which is remembered per (object, ETag) in this process, so re-observing an unchanged bucket
fetches no object again.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ser_pipeline.corpora.base import AUDIO_EXTENSIONS
from ser_pipeline.storage import (StoragePath, StorageError, check_access, describe_error, is_remote, list_files,
                                  location)

#: (object URL, size, ETag) -> content hash of a label object already fetched by this process
_LABEL_HASHES: dict[tuple[str, int, str], str] = {}
#: label objects remembered at most (a few hundred per corpus)
_MAX_LABEL_HASHES = 100_000

_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes (read in 1 MiB chunks)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_CHUNK):
            h.update(block)
    return h.hexdigest()


def corpus_fingerprint(root: str | StoragePath) -> tuple[str, int]:
    """(hex digest, number of files) of the folder ``root``; ("absent", 0) if it does not exist.

    ``root`` may be an object-storage location (a URL or UPath): see the module docstring. A
    store that cannot be reached is a :class:`~ser_pipeline.storage.StorageError`, never "absent"
    (which would read as a deleted corpus)."""
    root = location(root, "corpus root")
    if is_remote(root):
        return _object_fingerprint(root)
    if not root.is_dir():
        return "absent", 0
    h = hashlib.sha256()
    n = 0
    entries = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fn in filenames:
            entries.append(Path(dirpath) / fn)
    for path in sorted(entries):
        rel = path.relative_to(root).as_posix()
        try:
            st = path.stat()
        except OSError:  # broken symlink: still part of the listing
            h.update(f"{rel}\0broken\n".encode())
            n += 1
            continue
        if path.suffix.lower() in AUDIO_EXTENSIONS:
            h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        else:
            try:
                h.update(f"{rel}\0{file_sha256(path)}\n".encode())
            except OSError:
                h.update(f"{rel}\0unreadable\n".encode())
        n += 1
    return h.hexdigest()[:32], n


def _object_fingerprint(root: StoragePath) -> tuple[str, int]:
    """:func:`corpus_fingerprint` of an object-storage prefix, from one listing."""
    if not check_access(root):
        return "absent", 0
    h = hashlib.sha256()
    listed = list_files(root)
    base = str(root).rstrip("/") + "/"
    for f in listed:
        url = str(f.path)
        rel = url[len(base):] if url.startswith(base) else url
        if url.lower().endswith(AUDIO_EXTENSIONS):
            h.update(f"{rel}\0{f.size}\0{f.tag}\n".encode())
            continue
        key = (url, f.size, f.tag)
        digest = _LABEL_HASHES.get(key)
        if digest is None:
            try:
                digest = hashlib.sha256(f.path.fs.cat_file(f.path.path)).hexdigest()  # one GET
            except OSError as exc:
                raise StorageError(f"{describe_error(url, exc)}, reading it to fingerprint the corpus") from exc
            if len(_LABEL_HASHES) >= _MAX_LABEL_HASHES:
                _LABEL_HASHES.clear()
            _LABEL_HASHES[key] = digest
        h.update(f"{rel}\0{digest}\n".encode())
    return h.hexdigest()[:32], len(listed)
