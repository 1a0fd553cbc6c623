"""One writer at a time per output: an advisory lock file (``fcntl.flock``) that names its holder.

Two runs that build the same output on one data folder take turns; the one that waits is told
who holds the lock (the text its holder wrote into the file, e.g. a Dagster run id).
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Callable, Iterator
from pathlib import Path


@contextlib.contextmanager
def exclusive(path: str | Path, holder: str, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the lock file ``path`` for the block (created if needed). When another process holds it,
    ``on_wait(its holder text)`` is called once and this waits for it. The lock ends with the
    process that holds it, so a killed holder never blocks the next one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            if on_wait is not None:
                on_wait(f.read().strip() or "another process")
            fcntl.flock(f, fcntl.LOCK_EX)
        f.truncate(0)
        f.write(holder)
        f.flush()
        try:
            yield
        finally:
            f.truncate(0)
            fcntl.flock(f, fcntl.LOCK_UN)
