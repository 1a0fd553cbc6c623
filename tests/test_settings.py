"""One owner per setting: ser_pipeline.settings reads the environment, and the Dagster resources
take the data folder from one nested resource, so tables, MLflow store and artifacts agree."""

from pathlib import Path

import dagster as dg
import mlflow
import pandas as pd
import pytest

from ser_pipeline import settings


def test_settings_read_the_environment_when_called(monkeypatch, tmp_path):
    for var in ("SER_DATA_DIR", "SER_CORPORA_ROOT", "MLFLOW_TRACKING_URI", "SER_SCAN_WORKERS",
                "SER_SCAN_MEMORY_KEYS", "SER_MAX_REJECT_SHARE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    assert settings.data_dir() == tmp_path.resolve() / "data"
    assert settings.corpora_root() == tmp_path.resolve() / "corpora"
    assert settings.tracking_uri(tmp_path / "data") == f"sqlite:///{tmp_path}/data/mlflow.db"
    assert settings.scan_workers() >= 1 and settings.scan_memory_keys() == settings.DEFAULT_SCAN_MEMORY_KEYS
    assert settings.max_reject_share() == settings.DEFAULT_MAX_REJECT_SHARE
    monkeypatch.setenv("SER_DATA_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("SER_CORPORA_ROOT", str(tmp_path / "c"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow:5000")
    monkeypatch.setenv("SER_SCAN_WORKERS", "3")
    monkeypatch.setenv("SER_SCAN_MEMORY_KEYS", "17")
    monkeypatch.setenv("SER_MAX_REJECT_SHARE", "0.2")
    assert settings.data_dir() == tmp_path / "elsewhere"
    assert settings.data_dir("given") == tmp_path.resolve() / "given"  # config wins over the environment
    assert settings.corpora_root() == tmp_path / "c"
    assert settings.tracking_uri(tmp_path) == "http://mlflow:5000"
    assert settings.tracking_uri(tmp_path, "sqlite:///x.db") == "sqlite:///x.db"
    assert (settings.scan_workers(), settings.scan_memory_keys(), settings.max_reject_share()) == (3, 17, 0.2)
    assert settings.default_artifact_location(tmp_path) == (tmp_path.resolve() / "mlartifacts").as_uri()


@pytest.mark.parametrize("var,value,message", [
    ("SER_SCAN_WORKERS", "many", "SER_SCAN_WORKERS='many' is not an integer"),
    ("SER_SCAN_WORKERS", "0", "SER_SCAN_WORKERS=0 must be >= 1"),
    ("SER_SCAN_MEMORY_KEYS", "-5", "SER_SCAN_MEMORY_KEYS=-5 must be >= 1"),
    ("SER_MAX_REJECT_SHARE", "5", r"SER_MAX_REJECT_SHARE=5.0 must be in \[0.0, 1.0\]"),
])
def test_a_bad_value_names_the_variable(monkeypatch, var, value, message):
    monkeypatch.setenv(var, value)
    with pytest.raises(ValueError, match=message):
        {"SER_SCAN_WORKERS": settings.scan_workers, "SER_SCAN_MEMORY_KEYS": settings.scan_memory_keys,
         "SER_MAX_REJECT_SHARE": settings.max_reject_share}[var]()


def test_one_data_dir_config_moves_tables_mlflow_store_and_artifacts(monkeypatch, tmp_path):
    """The code location's resources, configured once at launch (resources.data_dir.config.path):
    the IO manager's tables, the default MLflow store and the experiment's artifacts all land under
    that folder, and nothing under the working directory."""
    from ser_pipeline.definitions import RESOURCES
    from ser_pipeline.defs.resources import MlflowResource

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)  # the default store, under the data dir
    monkeypatch.setenv("SER_DATA_DIR", str(tmp_path / "not_this_one"))  # run config wins
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    data = tmp_path / "data"
    (tmp_path / "note.txt").write_text("an artifact")

    @dg.asset
    def probe_table(mlflow: MlflowResource) -> pd.DataFrame:
        with mlflow.run("probe", {}) as run_id:
            mlflow.log_artifact(run_id, tmp_path / "note.txt")
        return pd.DataFrame({"run_id": [run_id], "uri": [mlflow.uri()]})

    resources = {k: RESOURCES[k] for k in ("io_manager", "data_dir", "mlflow")}
    result = dg.materialize([probe_table], resources=resources,
                            run_config={"resources": {"data_dir": {"config": {"path": str(data)}}}})
    assert result.success
    row = pd.read_parquet(data / "assets" / "probe_table.parquet").iloc[0]
    assert row.uri == f"sqlite:///{data}/mlflow.db"
    run = mlflow.MlflowClient(tracking_uri=row.uri).get_run(row.run_id)
    assert run.info.artifact_uri.startswith((data / "mlartifacts").as_uri())
    assert (Path(run.info.artifact_uri.removeprefix("file://")) / "note.txt").read_text() == "an artifact"
    assert list(cwd.iterdir()) == [] and not (tmp_path / "not_this_one").exists()


def test_scan_settings_are_built_explicitly_with_defaults_from_settings(monkeypatch):
    """No scan setting is read at import or travels in a global: ScanSettings() asks
    ser_pipeline.settings when it is built, and the corpus asset's config overrides field by field."""
    from ser_pipeline.corpora import ScanSettings
    from ser_pipeline.defs.corpora import CorpusReadConfig

    monkeypatch.setenv("SER_SCAN_WORKERS", "3")
    monkeypatch.setenv("SER_SCAN_MEMORY_KEYS", "99")
    assert (ScanSettings().workers, ScanSettings().memory_keys) == (3, 99)
    scan = CorpusReadConfig(workers=2).scan(progress=None)
    assert (scan.workers, scan.memory_keys, scan.sink) == (2, 99, None)
    assert CorpusReadConfig(memory_keys=7).scan(progress=None).memory_keys == 7
