"""A root that is a URL is never turned into a local folder (issue 18, "Roots are URLs"): corpora
roots may be buckets (tests/test_s3_corpora.py); a data folder on object storage stops the run at
its first step until tables, cache and checkpoints go through the storage layer; file:// works."""

import os
from pathlib import Path

import dagster as dg
import pytest

from ser_pipeline import settings
from ser_pipeline.defs.corpora import CORPUS_ASSETS, corpus_key
from ser_pipeline.defs.io import ParquetIOManager
from ser_pipeline.defs.resources import CorporaResource, DataDirResource

RAVDESS = next(a for a in CORPUS_ASSETS if corpus_key("ravdess") in a.keys)


def _resources(**corpora) -> dict:
    """The definitions' resources with nothing configured: roots come from the environment."""
    data_dir = DataDirResource()
    return {"io_manager": ParquetIOManager(data_dir=data_dir), "data_dir": data_dir,
            "corpora": CorporaResource(**corpora)}


def _corpora_root(tmp_path: Path, corpus: Path) -> Path:
    """A corpora root holding the generated corpus as ``ravdess/``."""
    (tmp_path / "corpora").mkdir()
    (tmp_path / "corpora" / "ravdess").symlink_to(corpus, target_is_directory=True)
    return tmp_path / "corpora"


def _url_folders(*tops: Path) -> list[str]:
    """Every folder under ``tops`` whose name looks like a URL scheme (``s3:``, ``gs:``...)."""
    return [os.path.join(d, n) for top in tops for d, dirs, _ in os.walk(top) for n in dirs if n.endswith(":")]


def _failure_message(result: dg.ExecuteInProcessResult) -> str:
    """The error of the failed resource initialisation (the run's first work, before any step)."""
    [event] = [e for e in result.all_events if e.event_type == dg.DagsterEventType.RESOURCE_INIT_FAILURE]
    assert not any(e.is_step_start for e in result.all_events)  # stopped before the corpus scan
    return event.event_specific_data.error.message


@pytest.mark.parametrize("value, setting", [("s3://bucket/data", "SER_DATA_DIR"),
                                            ("gs://bucket/data", "X"), (Path("s3://bucket/data"), "X"),
                                            ("file://otherhost/data", "X")])
def test_local_root_refuses_urls_naming_the_setting(value, setting):
    with pytest.raises(ValueError) as exc:
        settings.local_root(value, setting)
    assert str(exc.value).startswith(f"{setting}={value}: ") and "\n" not in str(exc.value)


def test_local_root_reads_file_urls_and_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert settings.local_root((tmp_path / "a b").as_uri(), "X") == tmp_path / "a b"
    assert settings.local_root(f"file://localhost{tmp_path}/d", "X") == tmp_path / "d"
    assert settings.local_root("rel/data", "X") == tmp_path / "rel" / "data"


@pytest.mark.parametrize("variable", ["SER_DATA_DIR"])
def test_an_s3_root_stops_the_first_step_and_makes_no_folder(variable, corpus_factory, tmp_path, monkeypatch):
    root = corpus_factory("ravdess", speakers=1, per_class=1)
    monkeypatch.chdir(tmp_path)  # where Path("s3://...").resolve() used to land
    monkeypatch.setenv("SER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SER_CORPORA_ROOT", str(_corpora_root(tmp_path, root)))
    monkeypatch.setenv(variable, "s3://bucket/ser")
    result = dg.materialize([RAVDESS], resources=_resources(), raise_on_error=False)
    assert not result.success
    message = _failure_message(result)
    assert f"{variable}=s3://bucket/ser: object storage roots are not supported yet (issue 18)" in message
    assert not _url_folders(tmp_path, Path.cwd(), root)


def test_a_corpus_override_may_be_a_bucket(s3, corpus_factory, tmp_path, monkeypatch):
    root = corpus_factory("ravdess", speakers=1, per_class=1)
    bucket = s3.new_bucket()
    s3.upload(root, f"s3://{bucket}/elsewhere/ravdess")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SER_DATA_DIR", str(tmp_path / "data"))
    result = dg.materialize([RAVDESS], resources=_resources(root=str(tmp_path / "no-corpora"),
                                                            overrides={"ravdess": f"s3://{bucket}/elsewhere/ravdess"}))
    [mat] = result.asset_materializations_for_node(RAVDESS.op.name)
    assert mat.metadata["root"].value == f"s3://{bucket}/elsewhere/ravdess"
    assert not _url_folders(tmp_path)


def test_file_urls_work_as_local_roots(corpus_factory, tmp_path, monkeypatch):
    root = corpus_factory("ravdess", speakers=1, per_class=1)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SER_DATA_DIR", (tmp_path / "data").as_uri())
    monkeypatch.setenv("SER_CORPORA_ROOT", _corpora_root(tmp_path, root).as_uri())
    result = dg.materialize([RAVDESS], resources=_resources())
    assert result.success
    assert list((tmp_path / "data").rglob("ravdess.parquet"))
    assert not _url_folders(tmp_path)
