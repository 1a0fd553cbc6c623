"""A set of strings whose memory is bounded: the newest keys in a dict, the rest on disk.

A corpus scan must remember every path it has handled (each audio file ends in a row or a
reject) and every utterance id it has written (duplicates are rejected), for the whole scan. In
a dict that costs about 150 bytes per key, so the scan's memory would grow with the corpus.
:class:`KeySet` keeps at most ``memory_keys`` keys in a dict and moves them, sorted, into a
private temporary SQLite database when it fills (SQLite deletes the file when the connection
closes; its page cache is capped at :data:`PAGE_CACHE_KIB`). Below the cap it is a dict; above
it each lookup of a key not in memory costs one indexed query (about 1.2 us measured, against
about 40 us per file for a scan).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

#: keys held in memory before they move to disk (about 150 bytes each in a dict)
from ser_pipeline.settings import DEFAULT_SCAN_MEMORY_KEYS as DEFAULT_MEMORY_KEYS
#: SQLite's page cache for the spilled keys, KiB
PAGE_CACHE_KIB = 1024


class KeySet:
    """Set of ``str`` with :meth:`add`, ``in`` and ``len``; memory bounded by ``memory_keys``.

    Not thread-safe; one per scan. Call :meth:`close` (or use it as a context manager) to drop
    the spilled keys at once; otherwise they go when the object is collected.
    """

    def __init__(self, memory_keys: int = DEFAULT_MEMORY_KEYS):
        if memory_keys < 1:
            raise ValueError(f"memory_keys must be >= 1, got {memory_keys}")
        self.memory_keys = memory_keys
        self._mem: dict[str, None] = {}  # a dict, not a set: about 4x less memory per str key
        self._db: sqlite3.Connection | None = None
        self._on_disk = 0

    def __contains__(self, key: str) -> bool:
        if key in self._mem:
            return True
        return self._db is not None and self._lookup(key)

    def __len__(self) -> int:
        return len(self._mem) + self._on_disk

    def add(self, key: str) -> bool:
        """Add ``key``; True if it was not in the set yet."""
        if key in self:
            return False
        self.insert(key)
        return True

    def insert(self, key: str) -> None:
        """Add ``key`` that the caller has just seen is absent (skips the membership check)."""
        self._mem[key] = None
        if len(self._mem) >= self.memory_keys:
            self._spill()

    def update(self, keys: Iterable[str]) -> None:
        """Add every key of ``keys``."""
        for k in keys:
            self.add(k)

    @property
    def spilled(self) -> int:
        """Keys held on disk."""
        return self._on_disk

    def close(self) -> None:
        """Forget every key and delete the on-disk part."""
        self._mem.clear()
        if self._db is not None:
            self._db.close()
            self._db = None
        self._on_disk = 0

    def __enter__(self) -> KeySet:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _lookup(self, key: str) -> bool:
        return self._db.execute("SELECT 1 FROM k WHERE key = ?", (key,)).fetchone() is not None

    def _spill(self) -> None:
        if self._db is None:
            # "" = a private temporary database on disk, deleted when the connection closes.
            self._db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
            for pragma in ("journal_mode = OFF", "synchronous = OFF", f"cache_size = -{PAGE_CACHE_KIB}"):
                self._db.execute(f"PRAGMA {pragma}")
            self._db.execute("CREATE TABLE k (key TEXT PRIMARY KEY) WITHOUT ROWID")
        # Sorted inserts append to the B-tree's right edge within each spill.
        self._db.execute("BEGIN")
        self._db.executemany("INSERT INTO k VALUES (?)", ((k,) for k in sorted(self._mem)))
        self._db.execute("COMMIT")
        self._on_disk += len(self._mem)
        self._mem.clear()
