"""A corpus folder's fingerprint: the data version Dagster observes to know what changed.

Audio files contribute (relative path, size, mtime in ns) — cheap for 100k files. Every other
file (label/annotation files: CSV, TXT, JSON, HDF5 ...) contributes its content hash, so an
edited label that keeps its size and mtime is still seen.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ser_pipeline.corpora.base import AUDIO_EXTENSIONS

_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes (read in 1 MiB chunks)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_CHUNK):
            h.update(block)
    return h.hexdigest()


def corpus_fingerprint(root: str | Path) -> tuple[str, int]:
    """(hex digest, number of files) of the folder ``root``; ("absent", 0) if it does not exist."""
    root = Path(root)
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
