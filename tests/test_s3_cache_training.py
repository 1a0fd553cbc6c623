"""The audio cache and training on object storage (issue 18): a cache built into a bucket from a
bucket corpus holds shards byte-identical to a local build and serves the same clips through the block
cache; training reads its table and cache from the bucket, writes checkpoints and the export
there, and resumes from it, with the same weights as a local run. A local moto server
(tests/s3_server.py) stands in for S3."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from ser_pipeline.audio.cache import POINTER, AudioCache, build_corpus_cache, read_pointer
from ser_pipeline.corpora import read_corpus
from ser_pipeline.labels.harmonize import add_soft_labels, corpus_mean_intensity
from s3_server import RequestCounter


def _sha256s(fs, prefix: str) -> dict[str, str]:
    """Object name below ``prefix`` -> sha256 of its bytes."""
    return {k[len(prefix) + 1:]: hashlib.sha256(fs.cat_file(k)).hexdigest() for k in fs.find(prefix)}


def _local_sha256s(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


@pytest.fixture(scope="module")
def tess(corpus_factory):
    root = corpus_factory("tess", per_class=1)  # 24,414 Hz and one 96 kHz file
    m, _ = read_corpus("tess", root)
    return root, add_soft_labels(m, corpus_mean_intensity(m))


@pytest.fixture
def bucket_corpus(s3, tess, tmp_path, monkeypatch):
    """TESS uploaded to a fresh bucket; the scratch folder in this test's tmp dir."""
    monkeypatch.setenv("SER_SCRATCH_DIR", str(tmp_path / "scratch"))
    bucket = s3.new_bucket()
    s3.upload(tess[0], f"s3://{bucket}/corpora/tess")
    return bucket


def test_cache_built_into_a_bucket_from_a_bucket_equals_a_local_build(s3, tess, bucket_corpus, tmp_path):
    root, table = tess
    bucket = bucket_corpus
    local = build_corpus_cache(table, root, tmp_path / "cache" / "tess", shard_samples=16000 * 3)
    remote = build_corpus_cache(table, f"s3://{bucket}/corpora/tess", f"s3://{bucket}/cache/tess",
                                shard_samples=16000 * 3)
    assert remote.equals(local) and local.shard.max() >= 1 and (local.length > 0).all()
    fs = s3.fs()
    # index, shards and meta file byte for byte in the build folder the pointer names
    build = read_pointer(fs.cat_file(f"{bucket}/cache/tess/{POINTER}"), POINTER)
    assert _sha256s(fs, f"{bucket}/cache/tess/{build}") == _local_sha256s(tmp_path / "cache" / "tess")
    assert sorted(k.rsplit("/", 1)[-1] for k in fs.find(f"{bucket}/cache/tess", maxdepth=1)) == [POINTER]
    assert not any((tmp_path / "scratch").glob("cache-build-*"))  # the staging folder is gone
    assert not Path("s3:").exists()  # a URL never became a local folder

    # the same clips from the bucket (block cache) as from the local memory maps
    a, b = AudioCache(tmp_path / "cache", ["tess"]), AudioCache(f"s3://{bucket}/cache", ["tess"])
    assert len(b) == len(a) == len(table)
    for uid in table.utterance_id:
        np.testing.assert_array_equal(b.get(uid), a.get(uid))

    # a second reader on this node gets every block from the block cache: no GET for shard data
    counter = RequestCounter().install()
    again = AudioCache(f"s3://{bucket}/cache", ["tess"])
    counter.reset()
    for uid in table.utterance_id:
        np.testing.assert_array_equal(again.get(uid), a.get(uid))
    assert counter.counts["GetObject"] == 0, counter.counts

    # once every block of a shard is on this node, fsspec hands back its local copy (a plain
    # file, no block map): it is memory-mapped instead (the evaluation after a training run)
    from ser_pipeline.audio.remote_shard import RemoteShard

    local_shard = np.load(tmp_path / "cache" / "tess" / "shard_00000.npy", mmap_mode="r")
    url = f"s3://{bucket}/cache/tess/{build}/shard_00000.npy"
    tag = s3.fs().info(url)["ETag"]
    first = RemoteShard(url, tag, tmp_path / "whole")
    np.testing.assert_array_equal(first[0:len(local_shard)], local_shard)
    first._file.close()  # what a process's exit does: fsspec records the shard as complete
    whole = RemoteShard(url, tag, tmp_path / "whole")
    np.testing.assert_array_equal(whole[5:len(local_shard)], local_shard[5:])
    assert whole._whole is not None


def test_a_half_uploaded_cache_is_not_trusted(s3, tess, bucket_corpus, tmp_path, monkeypatch):
    """A build cut short mid-upload leaves a build folder (its index in it) that no pointer names: a reader sees no
    cache when there was none before, and the previous build when there was, never a mixed one."""
    import ser_pipeline.audio.cache as cache_module
    from ser_pipeline.storage import StorageError

    root, table = tess
    bucket = bucket_corpus
    url = f"s3://{bucket}/cache/tess"
    upload = cache_module.put_file

    def cut_after_one_object(local, dest):  # the connection drops after the index, meta file and one shard
        if local.name not in ("cache.json", "index.parquet", "shard_00000.npy"):
            raise StorageError(f"{dest}: the endpoint is unreachable (connection lost)")
        upload(local, dest)

    with monkeypatch.context() as m:
        m.setattr(cache_module, "put_file", cut_after_one_object)
        with pytest.raises(StorageError, match="connection lost"):
            build_corpus_cache(table, root, url, shard_samples=16000 * 3)
    fs = s3.fs()
    assert [k.rsplit("/", 1)[-1] for k in fs.find(f"{bucket}/cache/tess")] == ["cache.json", "index.parquet", "shard_00000.npy"]
    assert len(AudioCache(f"s3://{bucket}/cache", ["tess"])) == 0

    small = table.head(2)
    build_corpus_cache(small, root, url)
    with monkeypatch.context() as m:
        m.setattr(cache_module, "put_file", cut_after_one_object)
        with pytest.raises(StorageError, match="connection lost"):
            build_corpus_cache(table, root, url, shard_samples=16000 * 3)
    cache = AudioCache(f"s3://{bucket}/cache", ["tess"])
    assert len(cache) == 2
    build_corpus_cache(small, root, tmp_path / "local" / "tess")
    local = AudioCache(tmp_path / "local", ["tess"])  # the small build's clips, whole
    for uid in small.utterance_id:
        np.testing.assert_array_equal(cache.get(uid), local.get(uid))


def test_remote_cache_in_worker_processes(s3, tess, bucket_corpus, tmp_path):
    """DataLoader workers get the cache pickled: no filesystem or open file travels with it, and
    the copy reads by itself."""
    import pickle

    root, table = tess
    bucket = bucket_corpus
    build_corpus_cache(table, root, f"s3://{bucket}/cache/tess")
    cache = AudioCache(f"s3://{bucket}/cache", ["tess"])
    uid = table.utterance_id.iloc[0]
    first = cache.get(uid)
    copy = pickle.loads(pickle.dumps(cache))
    assert copy._shards == {}
    np.testing.assert_array_equal(copy.get(uid), first)

    # forked DataLoader workers that inherit a shard the parent opened, with blocks still to fetch
    # (4 KiB blocks): each worker opens its own filesystem, the inherited one would hang
    small = AudioCache(f"s3://{bucket}/cache", ["tess"], block_size=4096, scratch=tmp_path / "small-blocks")
    uids = list(table.utterance_id)
    small.get(uids[0])
    loader = torch.utils.data.DataLoader(uids, batch_size=4, num_workers=2, collate_fn=lambda b: [small.get(u) for u in b],
                                         multiprocessing_context="fork", timeout=60)
    got = [w for batch in loader for w in batch]
    for u, w in zip(uids, got, strict=True):
        np.testing.assert_array_equal(w, cache.get(u))


def test_a_missing_bucket_stops_before_any_work(s3, tess, tmp_path, monkeypatch):
    """Building a cache into, or training into, a bucket that does not exist fails at once,
    naming the URL and the cause."""
    from ser_pipeline.emotions import RELEASED_PRIOR
    from ser_pipeline.storage import StorageError
    from ser_pipeline.training.loop import train
    from train_helpers import DOMAINS, ToneWaves, tiny_config, tiny_table

    monkeypatch.setenv("SER_SCRATCH_DIR", str(tmp_path / "scratch"))
    root, table = tess
    with pytest.raises(StorageError, match=r"s3://no-such-bucket/cache/tess: the bucket does not exist"):
        build_corpus_cache(table, root, "s3://no-such-bucket/cache/tess")
    rows = tiny_table()
    with pytest.raises(StorageError, match=r"s3://no-such-bucket/run: the bucket does not exist"):
        train(tiny_config(), rows, None, {}, domain_vocab=DOMAINS, prior=RELEASED_PRIOR,
              out_dir="s3://no-such-bucket/run", wave_fn=ToneWaves(rows))


TRAIN = {"epochs": 2, "batch_size": 2, "window_s": 4.0, "device": "cpu", "checkpoint_every": 2, "log_every": 1000,
         "model": {"d_model": 16, "encoder_layers": 1, "encoder_attention_heads": 2, "encoder_ffn_dim": 32}}


@pytest.fixture
def training_data(s3, corpus_factory, tmp_path, monkeypatch):
    """RAVDESS, its splits table and audio cache twice: in local folders and in a bucket (the
    bucket's cache built from the bucket's corpus). Returns (local spec, bucket spec, bucket)."""
    from ser_pipeline.corpora import get_spec
    from ser_pipeline.labels.splits import assign_splits

    monkeypatch.setenv("SER_SCRATCH_DIR", str(tmp_path / "scratch"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    root = corpus_factory("ravdess", speakers=2, per_class=1)
    m, _ = read_corpus("ravdess", root)
    table = add_soft_labels(m, corpus_mean_intensity(m))
    table["split"] = assign_splits(table, {"ravdess": get_spec("ravdess").role}, validation_fraction=0.1)
    table.to_parquet(tmp_path / "splits.parquet")
    bucket = s3.new_bucket()
    s3.upload(root, f"s3://{bucket}/corpora/ravdess")
    s3.fs().put_file(str(tmp_path / "splits.parquet"), f"{bucket}/data/splits.parquet")
    build_corpus_cache(table, root, tmp_path / "cache" / "ravdess")
    build_corpus_cache(table, f"s3://{bucket}/corpora/ravdess", f"s3://{bucket}/data/audio_cache/ravdess")
    local = {"splits_table": str(tmp_path / "splits.parquet"), "corpus_roots": {"ravdess": str(root)},
             "audio_cache": str(tmp_path / "cache"), "out_dir": str(tmp_path / "run"), "train": TRAIN}
    remote = {"splits_table": f"s3://{bucket}/data/splits.parquet",
              "corpus_roots": {"ravdess": f"s3://{bucket}/corpora/ravdess"},
              "audio_cache": f"s3://{bucket}/data/audio_cache", "out_dir": f"s3://{bucket}/runs/a", "train": TRAIN}
    return local, remote, bucket


def _put_spec(s3, bucket: str, name: str, spec: dict) -> str:
    s3.fs().pipe_file(f"{bucket}/specs/{name}.yaml", yaml.safe_dump(spec).encode())
    return f"s3://{bucket}/specs/{name}.yaml"


@pytest.mark.slow  # four tiny training runs: about 30 s on two cores
def test_training_from_a_bucket_equals_the_local_run_and_resumes_from_it(s3, training_data, tmp_path, capfd):
    from ser_pipeline.training.__main__ import main, run_from_spec
    from ser_pipeline.training.checkpoint import list_checkpoints

    local, remote, bucket = training_data
    (tmp_path / "local.yaml").write_text(yaml.safe_dump(local))
    assert main(["--config", str(tmp_path / "local.yaml")]) == 0
    assert main(["--config", _put_spec(s3, bucket, "a", remote)]) == 0
    fs = s3.fs()
    export = _sha256s(fs, f"{bucket}/runs/a/export")
    assert export == _local_sha256s(tmp_path / "run" / "export")  # weights, encoder config, metadata
    assert sorted(export) == ["model.safetensors", "ser_model.json", "whisper_config.json"]
    result = json.loads(fs.cat_file(f"{bucket}/runs/a/result.json"))
    assert result["export_dir"] == f"s3://{bucket}/runs/a/export"
    ckpts = list_checkpoints(f"s3://{bucket}/runs/a/checkpoints")
    assert ckpts and all(fs.exists(f"{c.path}.sha256") for c in ckpts)
    assert not Path("s3:").exists()
    assert any((tmp_path / "scratch" / "blockcache").iterdir())  # clips came through the block cache

    # killed after step 3 (last checkpoint at step 2), resumed from the bucket
    killed = {**remote, "out_dir": f"s3://{bucket}/runs/b"}
    spec = _put_spec(s3, bucket, "b", killed)
    assert run_from_spec(killed, stop_after_steps=3).export_dir is None
    assert not fs.exists(f"{bucket}/runs/b/export")
    capfd.readouterr()
    assert main(["--config", spec, "--resume"]) == 0
    assert f"resumed from s3://{bucket}/runs/b/checkpoints/ckpt_000000002.pt" in capfd.readouterr().err
    resumed = _sha256s(fs, f"{bucket}/runs/b/export")  # ser_model.json records resume: true
    assert resumed["model.safetensors"] == export["model.safetensors"]


def test_resume_skips_a_checkpoint_whose_digest_never_arrived(s3):
    """The digest sidecar is the commit marker: a checkpoint object without one (upload cut short
    before it) is passed over for the previous one."""
    from ser_pipeline.training.checkpoint import latest_valid_checkpoint, save_checkpoint

    url = f"s3://{s3.new_bucket()}/runs/c/checkpoints"
    save_checkpoint({"step": 1, "w": torch.ones(3)}, url, 1)
    newest = save_checkpoint({"step": 2, "w": torch.zeros(3)}, url, 2)
    assert latest_valid_checkpoint(url) == newest
    s3.fs().rm_file(f"{newest.path}.sha256")
    assert latest_valid_checkpoint(url).name == "ckpt_000000001.pt"
    s3.fs().pipe_file(f"{newest.path}.sha256", b"0" * 64)  # a digest that does not match
    assert latest_valid_checkpoint(url).name == "ckpt_000000001.pt"
