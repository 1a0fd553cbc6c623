"""Shared fixtures: generated corpora on disk, a per-test MLflow sqlite store."""

from __future__ import annotations

from pathlib import Path

import pytest

from ser_pipeline.synth import synth_corpus


def pytest_collection_modifyitems(config, items):
    """``real_weights`` tests (a ~140 MB download) run only when ``-m`` names them, so that
    `make test` needs no network; `make test-real-weights` runs them."""
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
