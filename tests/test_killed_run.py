"""A killed run never blocks the next (issue 16.1): ``dagster job execute`` killed while it trains
leaves no training process behind, its pool slot and MLflow run are released by the next run,
and SIGTERM stops a run within seconds. The runs go through the real CLI with configs/demo.yaml
(in-process executor, INFO console log), as `make demo` runs it."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import mlflow
import pytest
import yaml

from ser_pipeline.synth import synth_corpus
from tests.pipeline_helpers import TINY_TRAIN

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")]
REPO = Path(__file__).resolve().parents[1]


def _descendants(pid: int) -> list[int]:
    """Live (non-zombie) descendants of ``pid``, from /proc."""
    parent_of = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            parent_of[int(stat.parent.name)] = int(fields[1])
    out, frontier = [], [pid]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parent_of.items() if pp == p]
        out += kids
        frontier += kids
    return out


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.fixture()
def instance_env(tmp_path, monkeypatch, mlflow_uri):
    """A DAGSTER_HOME with the project's dagster.yaml (the `gpu` pool of limit 1), a data dir and
    an MLflow store, plus the run config writer."""
    root = tmp_path / "corpora"
    synth_corpus("ravdess", root / "ravdess", speakers=2, per_class=1)
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))  # the yaml's storage base_dir reads it
    env = {**os.environ, "DAGSTER_HOME": str(home), "SER_DATA_DIR": str(tmp_path / "data"),
           "MLFLOW_TRACKING_URI": mlflow_uri, "OMP_NUM_THREADS": "1"}

    def config(name: str, **train) -> Path:
        cfg = yaml.safe_load((REPO / "configs" / "demo.yaml").read_text())
        cfg["resources"]["corpora"]["config"]["root"] = str(root)
        cfg["resources"]["data_dir"]["config"]["path"] = str(tmp_path / "data")
        cfg["ops"]["emotion_model"]["config"] = {**TINY_TRAIN, "register_model": False, **train}
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(cfg))
        return path

    return env, home, config


def _execute(env, job: str, config: Path, **kw) -> subprocess.Popen:
    dagster = Path(sys.executable).with_name("dagster")
    return subprocess.Popen([str(dagster), "job", "execute", "-m", "ser_pipeline.definitions", "-j", job,
                             "-c", str(config)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, **kw)


def _training(proc: subprocess.Popen, timeout: float = 400) -> list[int]:
    """Wait until ``proc`` has a training child past its first steps; return the training pids."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the run ended early: {proc.stdout.read()[-3000:]}"
        trainers = [p for p in _descendants(proc.pid) if "ser_pipeline.training" in _cmdline(p)]
        if trainers:
            time.sleep(8)  # past torch's import: inside the training loop
            return trainers
        time.sleep(0.5)
    raise AssertionError("the run never started training")


def _wait_gone(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        alive = [p for p in pids if _cmdline(p)]
        if not alive:
            return []
        time.sleep(0.2)
    return [p for p in pids if _cmdline(p)]


@pytest.mark.timeout(900)
def test_sigkilled_run_leaves_no_trainer_and_does_not_block_the_next(instance_env):
    env, home, config = instance_env
    first = _execute(env, "full_pipeline", config("long", epochs=10_000))
    try:
        trainers = _training(first)
    finally:
        first.kill()  # SIGKILL: nothing in the run gets to clean up
        first.wait()
    left = _wait_gone(trainers, 10)
    for p in left:  # a failing run must not leave them behind either
        os.kill(p, signal.SIGKILL)
    assert not left, "the training subprocess outlived its killed run"
    with dg.DagsterInstance.from_config(str(home)) as instance:
        (killed,) = instance.get_runs()
        assert killed.status == dg.DagsterRunStatus.STARTED  # nobody recorded its end

    second = _execute(env, "train_and_evaluate", config("short"))
    try:
        out, _ = second.communicate(timeout=600)
    finally:
        second.kill()
    assert second.returncode == 0, out[-3000:]
    assert "blocked by limit for pool gpu" not in out
    assert "DEBUG" not in out  # configs/demo.yaml logs at INFO, not one line per engine event
    with dg.DagsterInstance.from_config(str(home)) as instance:
        status = {r.run_id: r.status for r in instance.get_runs()}
        assert instance.event_log_storage.get_concurrency_run_ids() == set()
    assert status[killed.run_id] == dg.DagsterRunStatus.FAILURE
    assert [s for r, s in status.items() if r != killed.run_id] == [dg.DagsterRunStatus.SUCCESS]
    client = mlflow.MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"])
    runs = client.search_runs([client.get_experiment_by_name("ser_pipeline").experiment_id])
    by_dagster = {r.data.tags["dagster_run_id"]: r for r in runs}
    assert by_dagster[killed.run_id].info.status == "FAILED" and len(by_dagster) == 2
    (done,) = [r for d, r in by_dagster.items() if d != killed.run_id]
    assert done.info.status == "FINISHED" and "eval/validation/micro_f1" in done.data.metrics


@pytest.mark.timeout(120)
def test_ser_free_slots_fails_a_dead_run_and_frees_its_slot(tmp_path, monkeypatch):
    """The Troubleshooting command: a STARTED run of this host whose process is gone is marked
    failed and its `gpu` slot is freed; a run whose process lives is left alone."""
    import socket

    from dagster._core.storage.dagster_run import DagsterRun

    from ser_pipeline.defs.run_guard import HOST_TAG, PID_TAG

    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with dg.DagsterInstance.get() as instance:
        instance.event_log_storage.set_concurrency_slots("gpu", 1)
        for run_id, pid in (("dead", gone.pid), ("live", os.getpid())):
            instance.add_run(DagsterRun(job_name="full_pipeline", run_id=run_id, status=dg.DagsterRunStatus.STARTED,
                                        tags={HOST_TAG: socket.gethostname(), PID_TAG: str(pid)}))
        assert instance.event_log_storage.claim_concurrency_slot("gpu", "dead", "emotion_model").is_claimed
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    done = subprocess.run([sys.executable, "-m", "ser_pipeline.defs.cli", "free-slots"], env=env,
                          capture_output=True, text=True, timeout=100)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "['dead']" in done.stdout
    with dg.DagsterInstance.get() as instance:
        assert instance.get_run_by_id("dead").status == dg.DagsterRunStatus.FAILURE
        assert instance.get_run_by_id("live").status == dg.DagsterRunStatus.STARTED
        assert instance.event_log_storage.get_concurrency_run_ids() == set()


@pytest.mark.timeout(600)
def test_sigterm_stops_a_training_run_within_seconds(instance_env):
    env, home, config = instance_env
    run = _execute(env, "full_pipeline", config("long", epochs=10_000))
    try:
        trainers = _training(run)
        run.send_signal(signal.SIGTERM)
        started = time.monotonic()
        out, _ = run.communicate(timeout=60)
        took = time.monotonic() - started
    finally:
        run.kill()
    left = _wait_gone(trainers, 10)
    for p in left:
        os.kill(p, signal.SIGKILL)
    assert not left, "the training subprocess outlived its stopped run"
    assert took < 30, f"the run took {took:.0f} s to stop: {out[-2000:]}"
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert [r.status for r in instance.get_runs()] == [dg.DagsterRunStatus.FAILURE]
