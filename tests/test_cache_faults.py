"""Audio-cache faults (issue 16.3, 16.6 cache side, 16.8): concurrent builds take turns in their own
staging folders, a full disk is reported and cleaned up, a killed build's leftovers go at the
next build, and a file that resolves outside its corpus root is never decoded."""

import errno
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ser_pipeline.audio.cache as cache_mod
from ser_pipeline.audio.cache import AudioCache, build_corpus_cache
from ser_pipeline.audio.clips import ClipDataset
from ser_pipeline.audio.io import AudioDecodeError
from ser_pipeline.corpora import read_corpus


@pytest.fixture()
def corpus(corpus_factory, tmp_path):
    """A private copy of a generated corpus (tests change its files) and its table."""
    root = tmp_path / "ravdess"
    shutil.copytree(corpus_factory("ravdess", speakers=2, per_class=1), root)
    table, _ = read_corpus("ravdess", root)
    return root, table


def _complete(out: Path, table: pd.DataFrame) -> None:
    idx = pd.read_parquet(out / "index.parquet")
    assert sorted(idx.utterance_id) == sorted(table.utterance_id) and (idx.length > 0).all()
    cache = AudioCache(out.parent, [out.name])
    assert all(cache.clip(r) is not None for r in table.to_dict("records"))


_BUILD = """
import sys, time
from pathlib import Path
import pandas as pd
from ser_pipeline.audio.cache import build_corpus_cache

table, root, out, holder, marker = pd.read_parquet(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]

def progress(done, total):  # the lock is held and the staging folder full: let the other one try
    Path(marker).touch()
    time.sleep(3)

build_corpus_cache(table, root, out, progress=progress, holder=holder,
                   on_wait=lambda other: print(f"waiting for {other}", flush=True))
"""


@pytest.mark.timeout(300)
def test_two_builds_of_one_cache_at_once_both_end_consistent(corpus, tmp_path):
    root, table = corpus
    table.to_parquet(tmp_path / "table.parquet")
    out = tmp_path / "cache" / "ravdess"

    def start(holder: str, marker: Path) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", _BUILD, str(tmp_path / "table.parquet"), str(root), str(out),
                                 holder, str(marker)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    first = start("run A", tmp_path / "a")
    deadline = time.monotonic() + 120
    while not (tmp_path / "a").exists():
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()
        time.sleep(0.1)
    second = start("run B", tmp_path / "b")
    out_a, err_a = first.communicate(timeout=120)
    out_b, err_b = second.communicate(timeout=120)
    assert first.returncode == 0, err_a[-2000:]
    assert second.returncode == 0, err_b[-2000:]
    assert "waiting for run A" in out_b  # the loser waited, told whose build it waited for
    _complete(out, table)
    assert sorted(p.name for p in out.parent.iterdir()) == [".ravdess.lock", "ravdess"]  # no staging left


def test_full_disk_is_named_and_its_partial_copy_removed(corpus, tmp_path, monkeypatch):
    root, table = corpus
    out = tmp_path / "cache" / "ravdess"
    build_corpus_cache(table, root, out)
    before = (out / "index.parquet").read_bytes()

    def full_disk(path, samples):  # half a shard reaches the disk, then the disk is full
        Path(path).write_bytes(np.asarray(samples).tobytes()[: samples.nbytes // 2])
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(cache_mod, "write_shard", full_disk)
    with pytest.raises(OSError, match=rf"no space left on {out.parent}") as err:
        build_corpus_cache(table, root, out, dtype="float32")
    assert err.value.errno == errno.ENOSPC
    assert sorted(p.name for p in out.parent.iterdir()) == [".ravdess.lock", "ravdess"]
    assert (out / "index.parquet").read_bytes() == before  # the previous cache is intact


def test_a_killed_builds_staging_folder_goes_at_the_next_build_a_live_ones_stays(corpus, tmp_path):
    root, table = corpus
    out = tmp_path / "cache" / "ravdess"
    out.parent.mkdir(parents=True)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    torn = out.parent / f".ravdess.tmp-{gone.pid}-x1"
    torn.mkdir()
    (torn / "shard_00000.npy").write_bytes(b"\x93NUMPY torn")
    live = out.parent / f".ravdess.tmp-{os.getpid()}-x2"  # a build in a live process: not touched
    live.mkdir()
    build_corpus_cache(table, root, out)
    assert not torn.exists() and live.exists()
    _complete(out, table)


def test_a_symlink_swapped_after_the_scan_is_not_decoded(corpus, tmp_path):
    root, table = corpus
    victim = table.sort_values("utterance_id").iloc[0]
    secret = tmp_path / "outside" / "secret.wav"
    secret.parent.mkdir()
    shutil.copy(root / victim.path, secret)  # real audio, outside the corpus root
    (root / victim.path).unlink()
    (root / victim.path).symlink_to(secret)  # swapped after the table was written
    out = tmp_path / "cache" / "ravdess"
    idx = build_corpus_cache(table, root, out).set_index("utterance_id")
    bad = idx.loc[victim.utterance_id]
    assert bad.length == -1 and bad.error.startswith(f"outside corpus root: {root / victim.path}")
    assert str(secret) in bad.error
    assert (idx.drop(index=victim.utterance_id).length > 0).all()  # the other clips are cached
    on_disk = pd.read_parquet(out / "index.parquet").set_index("utterance_id")
    assert on_disk.loc[victim.utterance_id, "error"] == bad.error
    ds = ClipDataset(table.reset_index(drop=True), {"ravdess": str(root)})  # the training reader
    i = int(np.flatnonzero(table.reset_index(drop=True).utterance_id == victim.utterance_id)[0])
    with pytest.raises(AudioDecodeError, match="outside corpus root"):
        ds.wave(i)


def test_a_reader_never_maps_the_shards_of_a_folder_rebuilt_after_it_loaded_the_index(corpus, tmp_path):
    """A local rebuild swaps the corpus folder while a reader (a training run, or a DataLoader
    worker started from its pickled state) still holds the old index: shards it mapped keep
    serving the old build, shards it had not opened are not taken from the new build (whose
    offsets differ), and the clips of those are decoded from the corpus instead."""
    import pickle

    from ser_pipeline.audio.cache import StaleCacheError
    from ser_pipeline.audio.io import load_clip

    root, table = corpus
    out = tmp_path / "cache" / "ravdess"
    idx = build_corpus_cache(table, root, out, dtype="float32", shard_samples=16000 * 2)
    assert idx.shard.max() >= 2
    rows = {r["utterance_id"]: r for r in table.to_dict("records")}
    first = idx[idx.shard == 0].utterance_id.iloc[0]
    reader = AudioCache(out.parent, ["ravdess"])
    np.testing.assert_array_equal(reader.clip(rows[first]), load_clip(root / rows[first]["path"]))
    worker = pickle.loads(pickle.dumps(reader))  # a spawned DataLoader worker's copy: nothing mapped

    # the rebuild: larger shards, so a shard name holds other clips than the old index says
    build_corpus_cache(table, root, out, dtype="float32", shard_samples=16000 * 5)
    new = pd.read_parquet(out / "index.parquet").set_index("utterance_id")
    old = idx.set_index("utterance_id").loc[new.index]
    moved = new.index[(old.shard > 0) & ((new.shard != old.shard) | (new.offset != old.offset))]
    later = moved[0]  # in a shard the reader has not mapped, at another place in the new build

    np.testing.assert_array_equal(reader.clip(rows[first]), load_clip(root / rows[first]["path"]))  # mapped
    for r in (reader, worker):
        assert r.clip(rows[later]) is None  # decoded from the corpus by the caller, never misread
        with pytest.raises(StaleCacheError, match="rebuilt since this reader loaded its index"):
            r.get(later)
    ds = ClipDataset(table.reset_index(drop=True), {"ravdess": str(root)}, cache=worker)
    i = int(np.flatnonzero(table.reset_index(drop=True).utterance_id == later)[0])
    np.testing.assert_array_equal(ds.wave(i), load_clip(root / rows[later]["path"]))
    fresh = AudioCache(out.parent, ["ravdess"])  # a reader started after the rebuild uses it
    np.testing.assert_array_equal(fresh.clip(rows[later]), load_clip(root / rows[later]["path"]))
