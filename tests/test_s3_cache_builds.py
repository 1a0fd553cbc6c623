"""Audio-cache builds in a bucket kept apart without a lock (issue 18): each build writes a fresh
build folder (index, shards, meta file) and then the pointer naming it. Builds racing each leave a self-consistent cache, a
reader keeps the build its index named, unnamed folders are collected after a grace period, and a
cache in the flat layout written before build folders is still read. A local moto server
(tests/s3_server.py) stands in for S3."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

import ser_pipeline.audio.cache as cache_module
from ser_pipeline.audio.cache import (BUILDS, INDEX, POINTER, AudioCache, build_corpus_cache, collect_builds,
                                      read_pointer)
from ser_pipeline.corpora import read_corpus
from ser_pipeline.labels.harmonize import add_soft_labels, corpus_mean_intensity
from ser_pipeline.storage import StorageError, as_root

SHARD = 16000 * 3  # 3 s shards: several per build, so a shard of the wrong build would show


@pytest.fixture(scope="module")
def tess(corpus_factory):
    root = corpus_factory("tess", per_class=1)
    m, _ = read_corpus("tess", root)
    return root, add_soft_labels(m, corpus_mean_intensity(m)).sort_values("utterance_id")


@pytest.fixture
def cache_url(s3, tmp_path, monkeypatch) -> str:
    monkeypatch.setenv("SER_SCRATCH_DIR", str(tmp_path / "scratch"))
    return f"s3://{s3.new_bucket()}/cache/tess"


@pytest.fixture
def local_caches(tess, tmp_path):
    """The clips of a local build of ``rows``: ``reference(rows)`` -> utterance id -> samples."""
    root, _ = tess

    def reference(rows, name: str) -> AudioCache:
        build_corpus_cache(rows, root, tmp_path / name / "tess", shard_samples=SHARD)
        return AudioCache(tmp_path / name, ["tess"])

    return reference


def _index(s3, url: str):
    """(index table, build folder the pointer names; "" for the flat layout) of the cache at ``url``."""
    import io

    import pandas as pd

    fs, base = s3.fs(), url.removeprefix("s3://")
    build = read_pointer(fs.cat_file(f"{base}/{POINTER}"), url) if fs.exists(f"{base}/{POINTER}") else ""
    return pd.read_parquet(io.BytesIO(fs.cat_file(f"{base}/{build}/{INDEX}" if build else f"{base}/{INDEX}"))), build


def _builds(s3, url: str) -> dict[str, set[str]]:
    """Build folder (``builds/<name>``) -> the object names in it."""
    base = url.removeprefix("s3://")
    out: dict[str, set[str]] = {}
    for key in s3.fs().find(f"{base}/{BUILDS}"):
        folder, name = key[len(base) + 1:].rsplit("/", 1)
        out.setdefault(folder, set()).add(name)
    return out


def _assert_reads(cache: AudioCache, reference: AudioCache, uids) -> None:
    for uid in uids:
        np.testing.assert_array_equal(cache.get(uid), reference.get(uid))


def test_two_builds_racing_leave_one_whole_build_indexed(s3, tess, cache_url, local_caches):
    root, table = tess
    inputs = {"all": table, "one fewer": table.iloc[1:]}  # every offset differs between the two
    barrier = threading.Barrier(2, timeout=60)
    results, errors = {}, []

    def build(name: str) -> None:
        def decoded(done: int, total: int) -> None:
            if done == total:  # both decoded: their uploads overlap
                barrier.wait()

        try:
            results[name] = build_corpus_cache(inputs[name], root, cache_url, shard_samples=SHARD, progress=decoded)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=build, args=(n,)) for n in inputs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors

    final, named = _index(s3, cache_url)
    [winner] = [n for n in inputs if final.equals(results[n])]
    builds = _builds(s3, cache_url)
    assert len(builds) == 2 and named in builds  # both kept: the loser's is inside the grace period
    for idx in results.values():  # each build's folder is whole: its index, meta file and every shard
        shards = {f"shard_{s:05d}.npy" for s in idx.shard[idx.length >= 0]}
        assert {INDEX, "cache.json", *shards} in builds.values()
    reference = local_caches(inputs[winner], winner.replace(" ", "_"))
    cache = AudioCache(cache_url.rsplit("/", 1)[0], ["tess"])
    assert len(cache) == len(inputs[winner])
    _assert_reads(cache, reference, inputs[winner].utterance_id)


def test_a_reader_keeps_its_build_while_another_is_committed(s3, tess, cache_url, local_caches):
    root, table = tess
    build_corpus_cache(table, root, cache_url, shard_samples=SHARD)
    reader = AudioCache(cache_url.rsplit("/", 1)[0], ["tess"])  # index loaded, no shard opened yet
    build_corpus_cache(table.iloc[1:], root, cache_url, shard_samples=SHARD)
    assert len(_index(s3, cache_url)[0]) == len(table) - 1  # the second build is the cache now
    _assert_reads(reader, local_caches(table, "first"), table.utterance_id)
    newer = AudioCache(cache_url.rsplit("/", 1)[0], ["tess"])
    assert len(newer) == len(table) - 1
    _assert_reads(newer, local_caches(table.iloc[1:], "second"), table.utterance_id.iloc[1:])


def test_unnamed_builds_are_collected_after_the_grace_period(s3, tess, cache_url, local_caches):
    root, table = tess
    build_corpus_cache(table.iloc[1:], root, cache_url, shard_samples=SHARD)
    build_corpus_cache(table.iloc[2:], root, cache_url, shard_samples=SHARD)
    assert len(_builds(s3, cache_url)) == 2  # default grace (24 h): the older build is kept
    build_corpus_cache(table, root, cache_url, shard_samples=SHARD, grace_s=0)
    named = _index(s3, cache_url)[1]
    assert list(_builds(s3, cache_url)) == [named]  # the unnamed ones removed, the named one kept
    _assert_reads(AudioCache(cache_url.rsplit("/", 1)[0], ["tess"]), local_caches(table, "all"), table.utterance_id)
    # a collector that committed another build spares the one the index in the store names
    assert collect_builds(as_root(cache_url, "cache"), f"{BUILDS}/gone", grace_s=0) == []
    assert list(_builds(s3, cache_url)) == [named]


def test_a_build_whose_folder_was_collected_writes_no_pointer(s3, tess, cache_url, monkeypatch):
    """A build that ran past the grace period while another build committed and collected its
    folder fails before its pointer, naming the folder; the other build stays the cache."""
    root, table = tess
    upload = cache_module.put_file
    other = []

    def then_another_build_commits(local: Path, dest) -> None:
        upload(local, dest)
        if local.name == "shard_00000.npy" and not other:  # after this build's last object (names sorted)
            other.append(dest)
            build_corpus_cache(table.head(2), root, cache_url, grace_s=0)

    monkeypatch.setattr(cache_module, "put_file", then_another_build_commits)
    with pytest.raises(StorageError, match=r"s3://.*/cache/tess/builds/[^ ]+: 3 of the 3 objects this build uploaded "
                                           r"are gone .*grace period of 86400 s; its pointer was not written"):
        build_corpus_cache(table, root, cache_url)  # one shard (default size)
    final, named = _index(s3, cache_url)
    assert len(final) == 2 and list(_builds(s3, cache_url)) == [named]


def test_a_cache_in_the_flat_layout_is_read_then_collected(s3, tess, cache_url, local_caches):
    """A cache uploaded before build folders (index, shards and meta file in the corpus folder, no
    pointer: what the previous code wrote, byte for byte a local build) is read as it is; a new
    build replaces it and collects its objects like an unnamed build's."""
    root, table = tess
    reference = local_caches(table, "flat")
    s3.upload(Path(reference.root) / "tess", cache_url)
    assert _index(s3, cache_url)[1] == ""
    flat = AudioCache(cache_url.rsplit("/", 1)[0], ["tess"])  # index loaded, no shard opened yet

    build_corpus_cache(table.iloc[1:], root, cache_url, shard_samples=SHARD)  # default grace: flat objects kept
    _assert_reads(flat, reference, table.utterance_id)
    assert len(AudioCache(cache_url.rsplit("/", 1)[0], ["tess"])) == len(table) - 1
    base = cache_url.removeprefix("s3://")
    build_corpus_cache(table.iloc[1:], root, cache_url, shard_samples=SHARD, grace_s=0)
    assert sorted(k.rsplit("/", 1)[-1] for k in s3.fs().find(base, maxdepth=1)) == [POINTER]


def test_an_index_whose_build_is_gone_is_not_used_and_a_missing_bucket_is_an_error(s3, tess, cache_url, caplog):
    root, table = tess
    build_corpus_cache(table, root, cache_url, shard_samples=SHARD)
    named = _index(s3, cache_url)[1]
    s3.fs().rm_file(f"{cache_url.removeprefix('s3://')}/{named}/shard_00001.npy")
    assert len(AudioCache(cache_url.rsplit("/", 1)[0], ["tess"])) == 0  # clips come from the corpus instead
    assert f"audio cache {cache_url}/{named} not used: 1 of the objects its index needs are gone " \
           "(shard_00001.npy..." in caplog.text
    with pytest.raises(StorageError, match="s3://no-such-bucket/cache: the bucket does not exist"):
        AudioCache("s3://no-such-bucket/cache", ["tess"])
