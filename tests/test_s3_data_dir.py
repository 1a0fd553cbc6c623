"""The data folder on object storage (issue 18), table side: with ``SER_DATA_DIR=s3://...`` the
corpus tables, rejects, label tables and splits are written to the bucket byte for byte as to a
local folder, a second run keeps them, a store that cannot be used stops the run at resource
setup naming the URL and the cause, and MLflow keeps its artifacts in the bucket. A local moto
server (tests/s3_server.py) stands in for S3."""

import hashlib
import sys
from pathlib import Path

import dagster as dg
import pytest

from ser_pipeline.defs.checks import CHECKS
from ser_pipeline.defs.corpora import CORPUS_ASSETS, corpus_key
from ser_pipeline.defs.io import ParquetIOManager
from ser_pipeline.defs.labels import label_intensity, smoothed_labels, splits
from ser_pipeline.defs.resources import CorporaResource, DataDirResource, MlflowResource

sys.path.insert(0, str(Path(__file__).parent))
from s3_server import AuthS3Server, url_folders  # noqa: E402

NAMES = ("ravdess", "crema_d", "emodb", "iemocap", "urdu")
CORPORA = [a for a in CORPUS_ASSETS if a.key.path[-1] in NAMES]
ASSETS = [*CORPORA, label_intensity, smoothed_labels, splits]
# the checks of these assets, reject_share among them (it reads the rejects tables)
ASSET_CHECKS = [c for c in CHECKS if {k.asset_key for k in c.check_keys} & {k for a in ASSETS for k in a.keys}]
RAVDESS = next(a for a in CORPORA if corpus_key("ravdess") in a.keys)


def _resources() -> dict:
    """The definitions' resources with nothing configured: roots come from the environment."""
    data_dir = DataDirResource()
    return {"io_manager": ParquetIOManager(data_dir=data_dir), "data_dir": data_dir,
            "corpora": CorporaResource(), "mlflow": MlflowResource(data_dir=data_dir)}


def _materialize(assets=ASSETS, checks=ASSET_CHECKS, **kwargs) -> dg.ExecuteInProcessResult:
    with dg.instance_for_test() as instance:
        return dg.materialize([*assets, *checks], instance=instance, resources=_resources(), **kwargs)


def _local_files(root: Path) -> dict[str, str]:
    """sha256 of every file below ``root`` by relative path."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in root.rglob("*") if p.is_file()}


def _bucket_files(fs, prefix: str) -> dict[str, str]:
    """sha256 of every object below ``prefix`` (``bucket/data``) by relative key."""
    fs.invalidate_cache()
    return {k[len(prefix) + 1:]: hashlib.sha256(fs.cat_file(k)).hexdigest() for k in fs.find(prefix)}



@pytest.fixture
def corpora(corpus_factory, tmp_path) -> Path:
    """The five corpora under ``tmp_path/corpora`` (links to the session's generated ones)."""
    root = tmp_path / "corpora"
    root.mkdir()
    for name in NAMES:
        (root / name).symlink_to(corpus_factory(name, speakers=2, per_class=1), target_is_directory=True)
    return root


@pytest.fixture
def read_only_cwd(tmp_path, monkeypatch) -> Path:
    """A working directory nothing may write to (a ``./s3:/...`` folder would fail to appear)."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    cwd.chmod(0o555)
    yield cwd
    cwd.chmod(0o755)


@pytest.mark.e2e  # the table half of the graph, three times
def test_tables_in_a_bucket_are_byte_identical_to_local_ones(s3, corpora, tmp_path, monkeypatch, read_only_cwd):
    # local folders
    monkeypatch.setenv("SER_CORPORA_ROOT", str(corpora))
    monkeypatch.setenv("SER_DATA_DIR", str(tmp_path / "data"))
    assert _materialize().success
    local = _local_files(tmp_path / "data")
    assert {f"rejects/{n}.parquet" for n in NAMES} | {f"assets/corpora/{n}.parquet" for n in NAMES} \
        | {"assets/label_intensity.parquet", "assets/smoothed_labels.parquet", "assets/splits.parquet"} == set(local)

    # everything on object storage, scratch files in their own local folder
    bucket = s3.new_bucket()
    s3.upload(corpora, f"s3://{bucket}/corpora")
    monkeypatch.setenv("SER_CORPORA_ROOT", f"s3://{bucket}/corpora")
    monkeypatch.setenv("SER_DATA_DIR", f"s3://{bucket}/data")
    monkeypatch.setenv("SER_SCRATCH_DIR", str(tmp_path / "scratch"))
    result = _materialize()
    assert result.success
    checks = {(e.asset_key.path[-1], e.check_name): e for e in result.get_asset_check_evaluations()}
    assert all(e.passed for (_, name), e in checks.items() if name != "reject_share")
    assert checks["crema_d", "reject_share"].metadata["rejects"].value == 1  # read back from the bucket
    remote = _bucket_files(s3.fs(), f"{bucket}/data")
    assert remote == local  # same files, same bytes
    [mat] = result.asset_materializations_for_node("splits")
    assert mat.metadata["path"].value == f"s3://{bucket}/data/assets/splits.parquet"
    assert not list((tmp_path / "scratch").rglob("*.tmp")) and not list((tmp_path / "scratch").rglob("*.parquet"))

    # again: the unchanged tables are rewritten whole, with the same bytes, and stay readable
    again = _materialize()
    assert again.success
    assert _bucket_files(s3.fs(), f"{bucket}/data") == local
    assert again.asset_materializations_for_node("splits")[0].tags["dagster/data_version"] == \
        mat.tags["dagster/data_version"]
    assert not url_folders(tmp_path) and not list(read_only_cwd.iterdir())


def test_a_missing_data_bucket_stops_at_resource_setup_naming_url_and_cause(s3, corpora, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SER_CORPORA_ROOT", str(corpora))
    monkeypatch.setenv("SER_DATA_DIR", "s3://no-such-bucket/data")
    result = _materialize([RAVDESS], [], raise_on_error=False)
    assert not result.success
    [event] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.RESOURCE_INIT_FAILURE]
    assert not any(e.is_step_start for e in result.all_events)  # before any scan
    assert "s3://no-such-bucket/data: the bucket does not exist" in event.event_specific_data.error.message
    assert not url_folders(tmp_path)


def test_a_data_bucket_without_permission_stops_at_resource_setup_naming_url_and_cause(corpora, tmp_path,
                                                                                      monkeypatch):
    # a valid key whose policy allows no s3 action: "permission denied", not "credentials rejected"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SER_CORPORA_ROOT", str(corpora))
    with AuthS3Server() as server:
        server.upload(corpora / "emodb", "s3://locked-data/data/some")
        data = DataDirResource(path="s3://locked-data/data", storage_options=server.user("no-s3", []))
        with dg.instance_for_test() as instance:
            result = dg.materialize([RAVDESS], instance=instance, raise_on_error=False, resources={
                "io_manager": ParquetIOManager(data_dir=data), "data_dir": data, "corpora": CorporaResource()})
    assert not result.success
    [event] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.RESOURCE_INIT_FAILURE]
    assert not any(e.is_step_start for e in result.all_events)  # before any scan
    assert "s3://locked-data/data: permission denied (Access Denied)" in event.event_specific_data.error.message
    assert not url_folders(tmp_path)


def test_mlflow_with_a_data_bucket_needs_a_tracking_uri_and_keeps_artifacts_in_the_bucket(s3, tmp_path,
                                                                                           monkeypatch, mlflow_uri):
    bucket = s3.new_bucket()
    monkeypatch.chdir(tmp_path)
    data_dir = DataDirResource(path=f"s3://{bucket}/data")
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    with pytest.raises(dg.Failure, match=f"data folder s3://{bucket}/data is on object storage.*set MLFLOW_TRACKING_URI"):
        MlflowResource(data_dir=data_dir).uri()
    down = MlflowResource(data_dir=data_dir, tracking_uri="http://127.0.0.1:9", on_unavailable="local",
                          request_max_retries=0, probe_timeout_s=1)
    with pytest.raises(dg.Failure, match=f"data folder s3://{bucket}/data is on object storage, which holds no local"):
        down.ensure_available()
    mlflow = MlflowResource(data_dir=data_dir, tracking_uri=mlflow_uri)
    (tmp_path / "note.txt").write_text("hello")
    with mlflow.run("artifacts", tags={}) as run_id:
        mlflow.log_artifact(run_id, tmp_path / "note.txt")
    experiment = mlflow.client().get_experiment(mlflow.experiment_id())
    assert experiment.artifact_location == f"s3://{bucket}/data/mlartifacts"
    keys = s3.fs().find(f"{bucket}/data/mlartifacts")
    assert keys == [f"{bucket}/data/mlartifacts/{run_id}/artifacts/note.txt"]
    assert not url_folders(tmp_path) and not (tmp_path / "mlruns").exists()


def test_a_second_scan_of_a_bucket_in_one_process_finds_every_file(s3, corpus_factory):
    # s3fs's find stops filling a folder's cached listing at the first subfolder it already had,
    # so a second scan in one process (a second run in the same worker, dg.materialize) saw none
    from ser_pipeline.corpora import ScanSettings, read_corpus

    bucket = s3.new_bucket()
    s3.upload(corpus_factory("ravdess", speakers=1, per_class=1), f"s3://{bucket}/ravdess")
    first, second = (read_corpus("ravdess", f"s3://{bucket}/ravdess", scan=ScanSettings(workers=1)) for _ in range(2))
    assert len(second.manifest) == len(first.manifest) > 0
