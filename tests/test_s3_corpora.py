"""Corpora on object storage (issue 18): every reader scans a bucket exactly as a local folder,
with one listing per corpus and at most one GET per PCM file, and a store that cannot be used
stops the run naming the URL and the cause. A local moto server (tests/s3_server.py) stands in
for S3; nothing here reaches a real endpoint."""

import contextlib
import hashlib
import re
from pathlib import Path

import dagster as dg
import pytest

from ser_pipeline import storage
from ser_pipeline.corpora import ScanSettings, available, read_corpus, read_corpus_to_parquet
from ser_pipeline.corpora.fingerprint import corpus_fingerprint
from ser_pipeline.defs.corpora import CORPUS_ASSETS, corpus_key
from ser_pipeline.defs.io import ParquetIOManager
from ser_pipeline.defs.resources import CorporaResource, DataDirResource
from s3_server import AuthS3Server, RequestCounter, url_folders

RAVDESS = next(a for a in CORPUS_ASSETS if corpus_key("ravdess") in a.keys)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def corpora_in_bucket(s3, corpus_factory, tmp_path):
    """Every corpus generated locally and uploaded to ``s3://<bucket>/corpora``."""
    local = tmp_path / "corpora"
    local.mkdir()
    for name in available():
        (local / name).symlink_to(corpus_factory(name, speakers=2, per_class=1), target_is_directory=True)
    bucket = s3.new_bucket()
    s3.upload(local, f"s3://{bucket}/corpora")
    return local, f"s3://{bucket}/corpora"


@pytest.mark.slow
def test_every_corpus_from_a_bucket_gives_byte_identical_tables(corpora_in_bucket, tmp_path):
    local, url = corpora_in_bucket
    for name in available():
        # two processes for the largest corpus, so worker processes probe objects too
        scan = ScanSettings(workers=2 if name == "ravdess" else 1)
        a_stats, a_rejects = read_corpus_to_parquet(name, local / name, tmp_path / "a" / f"{name}.parquet", scan=scan)
        b_stats, b_rejects = read_corpus_to_parquet(name, f"{url}/{name}", tmp_path / "b" / f"{name}.parquet",
                                                    scan=scan)
        assert b_stats.rows == a_stats.rows > 0, name
        assert _sha256(tmp_path / "b" / f"{name}.parquet") == _sha256(tmp_path / "a" / f"{name}.parquet"), name
        assert b_rejects.equals(a_rejects), name
        # reject details name files relative to the corpus root, never a machine's folder or a bucket
        assert not b_rejects["detail"].str.contains("s3://|/tmp/", regex=True).any(), name


def test_a_pcm_scan_costs_one_listing_and_one_get_per_file(s3, corpus_factory):
    bucket = s3.new_bucket()
    s3.upload(corpus_factory("ravdess", speakers=2, per_class=1), f"s3://{bucket}/ravdess")
    counter = RequestCounter().install()
    tables = read_corpus("ravdess", f"s3://{bucket}/ravdess", scan=ScanSettings(workers=1))
    n = len(tables.manifest)
    assert n > 20
    assert counter.counts["GetObject"] == n  # the header block of each file, nothing else
    assert counter.counts["HeadObject"] == 0  # sizes come from the listing
    assert counter.counts["ListObjectsV2"] <= 2  # the root check, one find (< 1,000 objects)


def test_checking_a_root_costs_one_listing_and_a_second_only_when_it_is_empty(s3, corpus_factory):
    bucket = s3.new_bucket()
    s3.upload(corpus_factory("emodb", speakers=1, per_class=1), f"s3://{bucket}/corpora/emodb")
    counter = RequestCounter().install()
    assert storage.check_access(storage.as_root(f"s3://{bucket}/corpora", "root"))
    assert dict(counter.counts) == {"ListObjectsV2": 1}  # the prefix, not the bucket before it
    counter.reset()
    assert not storage.check_access(storage.as_root(f"s3://{bucket}/nothing-here", "root"))
    # empty: the bucket is listed too, to tell it from a missing one (s3fs lists an empty prefix's
    # parent, here the bucket, by itself; the check takes that listing instead of a third request)
    assert dict(counter.counts) == {"ListObjectsV2": 2}
    with pytest.raises(storage.StorageError, match=f"^s3://{bucket}/nothing-here: no such object or prefix$"):
        storage.check_access(storage.as_root(f"s3://{bucket}/nothing-here", "root"), must_exist=True)
    with pytest.raises(storage.StorageError, match="^s3://no-such-bucket-here/x: the bucket does not exist$"):
        storage.check_access(storage.as_root("s3://no-such-bucket-here/x", "root"))


def test_fingerprint_of_a_bucket_follows_its_objects(s3, corpus_factory):
    bucket = s3.new_bucket()
    url = f"s3://{bucket}/crema_d"
    s3.upload(corpus_factory("crema_d"), url)
    first, n = corpus_fingerprint(url)
    assert n > 40 and corpus_fingerprint(url)[0] == first
    counter = RequestCounter().install()
    assert corpus_fingerprint(url)[0] == first
    assert counter.counts["GetObject"] == 0  # label objects with an unchanged ETag are not fetched again
    fs = s3.fs()
    votes = f"{bucket}/crema_d/processedResults/tabulatedVotes.csv"
    text = fs.cat(votes)
    fs.pipe(votes, text.replace(b",9,1,", b",1,9,", 1))  # same size: an edit the mtime scheme would miss
    assert corpus_fingerprint(url)[0] != first
    fs.pipe(votes, text)
    assert corpus_fingerprint(url)[0] == first
    wav = sorted(fs.find(f"{bucket}/crema_d/AudioWAV"))[0]
    fs.rm(wav)
    assert corpus_fingerprint(url)[1] == n - 1
    assert corpus_fingerprint(f"s3://{bucket}/nothing-here") == ("absent", 0)


def test_a_corpus_asset_reads_a_bucket(s3, corpus_factory, tmp_path, monkeypatch):
    bucket = s3.new_bucket()
    s3.upload(corpus_factory("ravdess", speakers=1, per_class=1), f"s3://{bucket}/corpora/ravdess")
    monkeypatch.chdir(tmp_path)
    data = DataDirResource(path=str(tmp_path / "data"))
    result = dg.materialize([RAVDESS], resources={"io_manager": ParquetIOManager(data_dir=data), "data_dir": data,
                                                   "corpora": CorporaResource(root=f"s3://{bucket}/corpora")})
    assert result.success
    [mat] = result.asset_materializations_for_node(RAVDESS.op.name)
    assert mat.metadata["root"].value == f"s3://{bucket}/corpora/ravdess"
    assert mat.metadata["dagster/row_count"].value > 0
    assert not url_folders(tmp_path)  # no ./s3:/ folder


@pytest.mark.parametrize("problem", ["missing_bucket", "unreachable", "wrong_credentials", "permission_denied"])
def test_a_store_that_cannot_be_used_stops_the_run_naming_url_and_cause(problem, s3, corpus_factory, tmp_path,
                                                                        monkeypatch):
    options = {}
    with contextlib.ExitStack() as stack:
        if problem == "missing_bucket":
            root, cause = "s3://no-such-bucket/corpora", "the bucket does not exist"
        elif problem == "unreachable":  # the endpoint from run config (storage_options) wins over the environment's
            options = {"endpoint_url": "http://127.0.0.1:9", "config_kwargs": {"retries": {"max_attempts": 1}}}
            root, cause = f"s3://{s3.new_bucket()}/corpora", "the endpoint is unreachable"
        elif problem == "wrong_credentials":
            server = stack.enter_context(AuthS3Server())
            options = {"endpoint_url": server.endpoint, "key": "not-a-key", "secret": "not-a-secret"}
            root, cause = "s3://any-bucket/corpora", "the credentials were rejected"
        else:  # a valid key whose policy allows no s3 action: not the same as a rejected key
            server = stack.enter_context(AuthS3Server())
            root, cause = "s3://locked/corpora", "permission denied"
            server.upload(corpus_factory("ravdess", speakers=1, per_class=1), f"{root}/ravdess")
            options = server.user("no-s3", [])
        data = DataDirResource(path=str(tmp_path / "data"))
        corpora = CorporaResource(root=root, storage_options=options)
        result = dg.materialize([RAVDESS], resources={"io_manager": ParquetIOManager(data_dir=data), "data_dir": data,
                                                       "corpora": corpora}, raise_on_error=False)
    assert not result.success
    [event] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.RESOURCE_INIT_FAILURE]
    assert not any(e.is_step_start for e in result.all_events)  # before any scan
    message = event.event_specific_data.error.message
    assert f"{root}: {cause}" in message
    assert not (tmp_path / "data" / "assets").exists()  # nothing partial a later run would trust


@pytest.mark.parametrize("name", ["ravdess", "crema_d"])  # fails at an audio header; at a label file first
def test_a_corpus_that_can_be_listed_but_not_read_stops_naming_url_and_cause(name, corpus_factory, tmp_path):
    """A policy with ``s3:ListBucket`` and no ``s3:GetObject``: resource setup passes (it only lists),
    the scan stops at its first read with one line naming the object and "permission denied",
    and writes no table, rejects or staged file."""
    asset = next(a for a in CORPUS_ASSETS if corpus_key(name) in a.keys)
    with AuthS3Server() as server:
        server.upload(corpus_factory(name, speakers=1, per_class=1), f"s3://listonly/corpora/{name}")
        options = server.user("lister", ["s3:ListBucket"])
        root = storage.as_root(f"s3://listonly/corpora/{name}", "root", options)
        # observing it too: label (non-audio) files are fingerprinted by content, a GET each
        with pytest.raises(storage.StorageError, match=rf"^{root}/\S+: permission denied \(Access Denied\), "):
            corpus_fingerprint(root)
        data = DataDirResource(path=str(tmp_path / "data"))
        corpora = CorporaResource(root="s3://listonly/corpora", storage_options=options)
        result = dg.materialize([asset], resources={"io_manager": ParquetIOManager(data_dir=data), "data_dir": data,
                                                     "corpora": corpora}, raise_on_error=False)
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    error = failure.event_specific_data.error.cause  # the step's own exception, under Dagster's wrapper
    assert error.cls_name == "StorageError"
    line = error.message.strip().removeprefix("ser_pipeline.storage.StorageError: ")
    assert re.fullmatch(rf"s3://listonly/corpora/{name}/\S+: permission denied \(Access Denied\)", line), line
    assert not [p for p in (tmp_path / "data").rglob("*") if p.is_file()]  # nothing a later run would trust


def test_storage_roots_never_become_local_folders(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root = storage.as_root("s3://bucket/corpora", "X")
    assert storage.is_remote(root) and str(root / "ravdess") == "s3://bucket/corpora/ravdess"
    assert storage.as_root((tmp_path / "c").as_uri(), "X") == tmp_path / "c"
    for bad in ("s3:/bucket/x", "nosuchproto://bucket/x"):  # Path("s3://b") once, and an unknown protocol
        with pytest.raises(ValueError, match=f"^X={bad}: "):
            storage.as_root(bad, "X")
    assert not list(tmp_path.iterdir())
