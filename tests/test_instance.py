"""The shipped local instance (dagster_home/dagster.yaml) keeps its run storage under $DAGSTER_HOME,
whatever folder a command runs from."""

import shutil
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.storage.runs import SqliteRunStorage

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.e2e  # one real (tiny) materialization


@dg.asset
def one() -> int:
    return 1


def test_run_storage_lands_under_dagster_home_not_the_working_directory(tmp_path, monkeypatch):
    home, elsewhere = tmp_path / "home", tmp_path / "elsewhere"
    home.mkdir()
    elsewhere.mkdir()
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.chdir(elsewhere)
    with dg.DagsterInstance.get() as instance:
        assert isinstance(instance.run_storage, SqliteRunStorage)
        result = dg.materialize([one], instance=instance,
                                resources={"io_manager": dg.FilesystemIOManager(base_dir=str(tmp_path / "io"))})
        assert result.success
        assert instance.get_run_by_id(result.run_id).is_success
    assert (home / "history" / "runs.db").is_file()
    assert (home / "history" / "runs" / f"{result.run_id}.db").is_file()  # the run's event log
    assert (home / "schedules" / "schedules.db").is_file()
    assert list(elsewhere.iterdir()) == [], sorted(p.name for p in elsewhere.rglob("*"))
    # a second instance from another folder sees the same run (one history, one set of pool slots)
    monkeypatch.chdir(tmp_path)
    with dg.DagsterInstance.get() as again:
        assert again.get_run_by_id(result.run_id).is_success
