"""Shared fixtures: generated corpora on disk, a per-test MLflow sqlite store."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ser_pipeline.synth import synth_corpus


def pytest_collection_modifyitems(config, items):
    """The end-to-end tests (a minute or more each) run first, so that under pytest-xdist the
    suite does not end with one worker on a long test and the other idle; the order within each
    tier is kept. ``real_weights`` tests (a ~140 MB download) run only when ``-m`` names them, so
    that `make test` needs no network; `make test-real-weights` runs them."""
    items.sort(key=lambda item: "e2e" not in item.keywords)  # stable: collection order within a tier
    if "real_weights" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="opt-in real-weights test: run `make test-real-weights`")
    for item in items:
        if "real_weights" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _isolated_mlflow(tmp_path, monkeypatch):
    """Every test gets its own sqlite MLflow store (never ./mlflow.db)."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")


@pytest.fixture(scope="session")
def mlflow_store_template(tmp_path_factory) -> Path:
    """An empty sqlite MLflow store with MLflow's schema, made once per test process: creating
    one runs MLflow's schema migrations, 2.5-4 s of CPU each time on 2 cores."""
    import mlflow

    path = tmp_path_factory.mktemp("mlflow_template") / "mlflow.db"
    mlflow.MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def mlflow_uri(tmp_path, mlflow_store_template) -> str:
    """The test's own store, ``sqlite:///<tmp_path>/mlflow.db`` (the one MLFLOW_TRACKING_URI names),
    created as a copy of the migrated empty store: the same file MLflow would create there."""
    shutil.copyfile(mlflow_store_template, tmp_path / "mlflow.db")
    return f"sqlite:///{tmp_path}/mlflow.db"


@pytest.fixture(scope="session")
def corpus_factory(tmp_path_factory):
    """``corpus_factory(name, **kw) -> Path``: a generated corpus, cached per arguments."""
    cache: dict[tuple, Path] = {}

    def make(name: str, *, seed: int = 0, speakers: int | None = None, per_class: int = 2) -> Path:
        key = (name, seed, speakers, per_class)
        if key not in cache:
            out = tmp_path_factory.mktemp(f"corpus_{name}")
            synth_corpus(name, out, seed=seed, speakers=speakers, per_class=per_class)
            cache[key] = out
        return cache[key]

    return make


@pytest.fixture(scope="session")
def s3_server():
    """A local S3 server (moto, 127.0.0.1, random port) for the whole session (tests/s3_server.py)."""
    from s3_server import S3Server

    server = S3Server()
    yield server
    server.stop()


@pytest.fixture
def s3(s3_server, monkeypatch):
    """The local S3 server with this test's environment pointing at it (endpoint, credentials)."""
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    return s3_server
