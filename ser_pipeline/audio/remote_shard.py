"""An audio-cache shard (``.npy``) on object storage, read by byte ranges through a node-local
block cache (fsspec's ``CachingFileSystem``, the ``blockcache::`` protocol).

Each block of ``block_size`` bytes is fetched at most once per node: fsspec keeps it in a sparse
file under ``<scratch>/blockcache/<object version>/`` and records which blocks it holds in a
metadata file there. Several processes of one node (DataLoader workers) share that folder:

* the file is opened under a lock file, so two processes never both create (and truncate) the
  sparse file;
* a read that needs blocks this process has not seen takes the same lock, saves the metadata
  (fsspec merges it both ways, so the worker learns what the others fetched), fetches what is
  still missing and saves again: a block is fetched at most once per node, and an epoch costs
  at most ``ceil(size / block_size)`` GETs per shard and node;
* a read whose blocks are all held is a view of fsspec's memory-mapped sparse file (no request,
  no lock, no copy), as fast as a local memory-mapped shard;
* the folder is named after the object's URL and ETag, so a rebuilt shard never serves old blocks.

Nothing here holds an open filesystem or file across ``pickle`` or ``fork`` (DataLoader workers
spawn or fork, and open lazily in their own process): fsspec filesystems are not fork-safe.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from ser_pipeline.locks import exclusive
from ser_pipeline.storage import StorageError, describe_error

#: bytes per block fetched and cached (one ranged GET per run of missing blocks)
DEFAULT_BLOCK_SIZE = 8 << 20


class RemoteShard:
    """Read-only view of one ``.npy`` object: ``shard[a:b]`` is the samples ``a..b`` (a 1-D
    ndarray of the shard's dtype), like a slice of ``np.load(mmap_mode="r")``."""

    def __init__(self, url: str, tag: str, scratch: str | Path, block_size: int = DEFAULT_BLOCK_SIZE):
        """``tag``: the object's version (ETag from the listing); ``scratch``: node-local folder."""
        self.url, self.tag, self.block_size = url, tag, int(block_size)
        key = hashlib.sha256(f"{url}\0{tag}\0{self.block_size}".encode()).hexdigest()[:24]
        self.store = Path(scratch) / "blockcache" / key
        self._fs = self._file = self._whole = None  # opened in the process that reads
        self._pid = -1  # the process that opened them: a forked child opens its own
        self._offset, self._dtype = 0, None

    def __getstate__(self):
        return {**self.__dict__, "_fs": None, "_file": None, "_whole": None}

    def _open(self):
        import fsspec
        from fsspec.implementations.cached import CachingFileSystem

        target, path = fsspec.core.url_to_fs(self.url)
        self.store.mkdir(parents=True, exist_ok=True)
        try:
            with exclusive(self.store / ".lock", f"pid {os.getpid()}"):
                # a fresh instance under the lock reads the metadata other processes saved
                fs = CachingFileSystem(fs=target, cache_storage=str(self.store), cache_check=False,
                                       expiry_time=False, skip_instance_cache=True)
                f = fs.open(path, "rb", block_size=self.block_size)
                version = np.lib.format.read_magic(f)
                header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                          else np.lib.format.read_array_header_2_0)
                shape, fortran, dtype = header(f)
                fs.save_cache()  # the header's block
        except OSError as exc:
            raise StorageError(describe_error(self.url, exc)) from exc
        if len(shape) != 1 or fortran:
            raise ValueError(f"{self.url}: not a 1-D audio shard (shape {shape})")
        self._fs, self._file, self._offset, self._dtype, self._pid = fs, f, f.tell(), dtype, os.getpid()
        self._whole = None
        if not hasattr(f, "cache"):
            # every block already on this node: fsspec hands back the local copy itself (a plain
            # file), which is memory-mapped like a local shard
            self._whole = np.memmap(f.name, dtype=dtype, mode="r", offset=self._offset, shape=shape)
        return f

    def __getitem__(self, sl: slice) -> np.ndarray:
        # a DataLoader worker forked after its parent read this shard inherits the parent's file,
        # whose filesystem's event loop thread did not survive the fork: open anew
        f = self._file if self._pid == os.getpid() else self._open()
        start, stop = sl.start or 0, sl.stop
        if self._whole is not None:
            return self._whole[start:stop]
        itemsize = self._dtype.itemsize
        a, n = self._offset + start * itemsize, (stop - start) * itemsize
        if n <= 0:
            return np.empty(0, self._dtype)
        blocks = f.cache.blocks
        needed = range(a // self.block_size, (a + n - 1) // self.block_size + 1)
        if all(b in blocks for b in needed):  # all on local disk: a view of fsspec's memory map, no copy
            return np.frombuffer(f.cache.cache, dtype=self._dtype, count=stop - start, offset=a)
        # a miss: under the node's lock for this shard, learn what the other processes fetched,
        # fetch the rest, publish it, so no block is fetched twice on one node
        with exclusive(self.store / ".lock", f"pid {os.getpid()}"):
            self._fs.save_cache()  # fsspec merges both ways: ours out, theirs in
            before = set(blocks)
            try:
                f.seek(a)
                data = f.read(n)
            except Exception as exc:
                # fsspec marks blocks as held before it fetches them: unmark what this read did not get
                blocks.intersection_update(before)
                raise StorageError(describe_error(self.url, exc)) from exc
            if len(blocks) != len(before):
                self._fs.save_cache()
        return np.frombuffer(data, dtype=self._dtype)
