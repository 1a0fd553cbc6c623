"""Audio cache streamed from object storage (issue 18, Speed): a local moto S3 server on 127.0.0.1.

One synthetic int16 cache (``--minutes`` of audio in one-hour shards, clips of 2-6 s) is read in a
shuffled order through a DataLoader, every epoch with fresh worker processes (``persistent_workers``
off, so later epochs show what a node's block cache on disk gives a new process):

* baseline: the same cache in a local folder (memory-mapped shards), same loader, same run;
* the cache in the bucket, a new block cache folder: epoch 1 fetches blocks, epochs 2+ read them
  from the node-local block cache.

Reported per configuration: seconds of audio per second per worker, and the GetObject requests
of each epoch (all worker processes counted) against cache bytes / block size.

    PYTHONPATH=$PWD python benchmarks/s3_cache.py [--minutes 90] [--block-mib 8] [--epochs 2]
"""

from __future__ import annotations

import argparse
import functools
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from s3_server import S3Server  # noqa: E402  (the test suite's moto server)

from ser_pipeline.audio.cache import INDEX, SHARD_SAMPLES, AudioCache, write_shard  # noqa: E402

SR = 16000


def make_cache(folder: Path, minutes: float, seed: int = 0) -> list[str]:
    """An int16 cache of ``minutes`` of noise in shards of the production size (one hour) under
    ``folder/bench``; returns the utterance ids."""
    rng = np.random.default_rng(seed)
    out = folder / "bench"
    out.mkdir(parents=True)
    rows, shard, buf, total = [], 0, 0, int(minutes * 60 * SR)
    shard_len = SHARD_SAMPLES
    done = 0
    while done < total:
        n = min(int(rng.uniform(2, 6) * SR), total - done)
        if buf + n > shard_len:
            shard, buf = shard + 1, 0
        rows.append({"utterance_id": f"u{len(rows):06d}", "shard": shard, "offset": buf, "length": n, "error": None,
                     "path": f"u{len(rows):06d}.wav", "start_s": np.nan, "end_s": np.nan})
        buf += n
        done += n
    idx = pd.DataFrame(rows)
    for s, part in idx.groupby("shard"):
        size = int((part.offset + part.length).max())
        write_shard(out / f"shard_{s:05d}.npy", rng.integers(-20000, 20000, size, dtype=np.int16))
    idx.to_parquet(out / INDEX, index=False)
    (out / "cache.json").write_text('{"dtype": "int16", "sample_rate": 16000}')
    return list(idx.utterance_id)


class Clips(torch.utils.data.Dataset):
    def __init__(self, cache: AudioCache, uids: list[str]):
        self.cache, self.uids = cache, uids

    def __len__(self) -> int:
        return len(self.uids)

    def __getitem__(self, i: int) -> np.ndarray:
        return self.cache.get(self.uids[i])


def _count_gets(counter, **_kw) -> None:
    with counter.get_lock():
        counter.value += 1


def _init_worker(counter, _worker_id: int) -> None:
    """Count this worker's GetObject requests into the shared ``counter``."""
    import fsspec
    from fsspec.asyn import sync

    fs = fsspec.filesystem("s3")
    client = sync(fs.loop, fs.set_session)
    client.meta.events.register("before-send.s3.GetObject", functools.partial(_count_gets, counter))


def epoch(cache: AudioCache, uids: list[str], workers: int, seed: int, counter=None) -> tuple[float, float]:
    """One shuffled pass: (seconds of audio, wall seconds). With ``counter``, the workers count
    their GetObject requests into it (that costs each worker a botocore client at start-up, about
    0.3 s here, so timed passes run without it)."""
    order = list(np.random.default_rng(seed).permutation(uids))
    init = functools.partial(_init_worker, counter) if counter is not None else None
    loader = torch.utils.data.DataLoader(Clips(cache, order), batch_size=16, collate_fn=list, num_workers=workers,
                                         worker_init_fn=init)
    t0 = time.perf_counter()
    samples = sum(len(w) for batch in loader for w in batch)
    return samples / SR, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=90.0)
    ap.add_argument("--block-mib", type=float, default=8.0)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    torch.set_num_threads(1)
    block = int(args.block_mib * (1 << 20))
    server = S3Server()
    os.environ.update(server.env())
    counter = mp.Value("q", 0)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        uids = make_cache(tmp / "cache", args.minutes)
        nbytes = sum(p.stat().st_size for p in (tmp / "cache" / "bench").glob("shard_*.npy"))
        bucket = server.new_bucket()
        server.upload(tmp / "cache", f"s3://{bucket}/cache")
        print(f"cache: {args.minutes:g} min of int16 audio, {len(uids)} clips, {nbytes / 1e6:.1f} MB of shards; "
              f"block {args.block_mib:g} MiB -> cache bytes / block size = {nbytes / block:.1f}")
        blocks = sum(int(np.ceil(p.stat().st_size / block)) for p in (tmp / "cache" / "bench").glob("shard_*.npy"))
        print(f"blocks in the shards (each fetched once at most): {blocks}")
        for workers in args.workers:
            local = AudioCache(tmp / "cache", ["bench"])
            for e in range(args.epochs):
                audio, wall = epoch(local, uids, workers, e)
                print(f"local mmap    workers={workers} epoch {e + 1}: {audio / wall / workers:6.0f} s audio/s per worker")
            remote = AudioCache(f"s3://{bucket}/cache", ["bench"], block_size=block, scratch=tmp / f"timed-{workers}")
            for e in range(args.epochs):
                audio, wall = epoch(remote, uids, workers, e)
                print(f"s3 blockcache workers={workers} epoch {e + 1}: {audio / wall / workers:6.0f} s audio/s per worker")
            # the same passes again on a new block cache, counting requests in every worker
            remote = AudioCache(f"s3://{bucket}/cache", ["bench"], block_size=block, scratch=tmp / f"count-{workers}")
            for e in range(args.epochs):
                counter.value = 0
                epoch(remote, uids, workers, e, counter)
                print(f"s3 blockcache workers={workers} epoch {e + 1}: {counter.value} GetObject "
                      f"(cache bytes / block size {nbytes / block:.1f}, blocks {blocks})")
    server.stop()


if __name__ == "__main__":
    main()
