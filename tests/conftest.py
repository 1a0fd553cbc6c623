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
