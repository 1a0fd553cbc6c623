"""A root that is a URL is never turned into a local folder (issue 18, "Roots are URLs"): corpora
roots and the data folder may be buckets (tests/test_s3_corpora.py, tests/test_s3_data_dir.py); a
URL that went through ``Path()`` once (``s3:/bucket``) is refused naming the setting; file:// works."""

from pathlib import Path

import dagster as dg
import pytest

from ser_pipeline import settings, storage
from ser_pipeline.defs.corpora import CORPUS_ASSETS, corpus_key
from ser_pipeline.defs.io import ParquetIOManager
from ser_pipeline.defs.resources import CorporaResource, DataDirResource

from s3_server import url_folders

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



@pytest.mark.parametrize("value", [str(Path("s3://bucket/data")), "nosuchproto://bucket/data",
                                   "file://otherhost/data"])
def test_a_malformed_data_dir_is_refused_naming_the_setting(value, monkeypatch):
    monkeypatch.setenv("SER_DATA_DIR", value)
    with pytest.raises(ValueError) as exc:
        settings.data_dir()
    assert str(exc.value).startswith(f"SER_DATA_DIR={value}: ") and "\n" not in str(exc.value)


def test_data_dir_reads_file_urls_and_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert settings.data_dir((tmp_path / "a b").as_uri()) == tmp_path / "a b"
    assert settings.data_dir(f"file://localhost{tmp_path}/d") == tmp_path / "d"
    assert settings.data_dir("rel/data") == tmp_path / "rel" / "data"


@pytest.mark.parametrize(("value", "remote"), [
    (Path("/data"), False), (Path("s3:/b/x"), False),  # a URL that went through Path() is a (wrong) local path
    ("relative/str", False), ("C:/data", False), ("/abs/str", False), ("file:///tmp/x", False),
    ("s3://b/x", True), ("gs://b", True),
    (storage.as_root("s3://b/x", "X"), True), (storage.as_root("/tmp/x", "X"), False),
    (storage.as_root("file:///tmp/x", "X"), False),  # as_root makes file:// a Path, never a UPath
])
def test_is_remote_is_true_exactly_for_object_storage(value, remote):
    assert storage.is_remote(value) is remote


def test_is_remote_of_a_local_upath_is_false(tmp_path):
    from upath import UPath

    assert not storage.is_remote(UPath(tmp_path)) and not storage.is_remote(UPath(tmp_path.as_uri()))
    assert storage.is_remote(UPath("memory://bucket/x"))


def test_an_s3_data_dir_is_a_bucket_location_not_a_local_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where Path("s3://...").resolve() used to land
    monkeypatch.setenv("SER_DATA_DIR", "s3://bucket/ser")
    root = DataDirResource().base()
    assert storage.is_remote(root) and str(root / "assets") == "s3://bucket/ser/assets"
    assert not url_folders(tmp_path)


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
    assert not url_folders(tmp_path)


def test_file_urls_work_as_local_roots(corpus_factory, tmp_path, monkeypatch):
    root = corpus_factory("ravdess", speakers=1, per_class=1)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SER_DATA_DIR", (tmp_path / "data").as_uri())
    monkeypatch.setenv("SER_CORPORA_ROOT", _corpora_root(tmp_path, root).as_uri())
    result = dg.materialize([RAVDESS], resources=_resources())
    assert result.success
    assert list((tmp_path / "data").rglob("ravdess.parquet"))
    assert not url_folders(tmp_path)
