"""``full_pipeline`` with the multiprocess executor on a bucket writes the same bytes as on local
folders (issue 18, "How it is proven on one machine").

Two runs of ``dagster job execute -m ser_pipeline.definitions -j full_pipeline``, the real CLI,
each with its own DAGSTER_HOME: one on local folders, one with ``SER_CORPORA_ROOT=s3://<bucket>/corpora``
and ``SER_DATA_DIR=s3://<bucket>/data`` on the suite's moto server. The CLI and not ``execute_job``
in the test process: the multiprocess executor's forkserver is one per interpreter, so the first
run's forkserver would keep its environment (``SER_DATA_DIR``...) for the second.

Speed: with the default ``spawn`` start method each of the ~45 steps that run is a fresh
interpreter importing torch, Dagster and the definitions (~10 s of CPU on this machine; 8 minutes
a run). ``start_method: forkserver`` with ``preload_modules`` imports them once and forks each
step from that process. The two runs go at once: each leaves a core idle while it imports,
trains (one process) and evaluates (a chain of single steps).

Every process of a run (the CLI, the forkserver, each step, the training subprocess) gets its
own fresh TMPDIR, as each step gets its own pod under the Kubernetes executor: a
``sitecustomize`` put first on PYTHONPATH makes one at interpreter start and again in every
forked child (``os.register_at_fork``), named after the pid, and the steps' pids come from the
run's ``STEP_WORKER_STARTED`` events. The working directory is read-only and stays empty.

Compared by sha256, keyed by the path below the data folder (sorted by path parts): corpus tables
(``assets/corpora/``), rejects tables (``rejects/``), label tables (``assets/label_intensity``,
``assets/smoothed_labels``), the splits table (the split metadata is derived from it), the audio
cache (``audio_cache/<corpus>/``: shards, index and ``cache.json``; in the bucket, those of the
build folder its ``CURRENT`` pointer names) and the table training read
(``models/<run>/train_table.parquet``, the run id replaced). Not compared: what names a run, a
place or a time (asset records, the training spec, checkpoints, exports, reports, MLflow
artifacts) and the local cache's lock files, which object storage has no use for.
"""

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import dagster as dg
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from pipeline_helpers import TINY_TRAIN  # noqa: E402
from s3_server import url_folders  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
NAMES = ("ravdess", "crema_d", "emodb")
#: the compared files: path prefixes below the data folder, one per kind
KINDS = {
    "corpus tables": "assets/corpora/",
    "rejects tables": "rejects/",
    "label intensity": "assets/label_intensity.parquet",
    "smoothed labels": "assets/smoothed_labels.parquet",
    "splits": "assets/splits.parquet",
    "audio cache": "audio_cache/",
    "training table": "models/<run>/train_table.parquet",
}

#: what the forkserver imports once, so that no step process (a fork of it) imports it again:
#: the definitions (torch, transformers...), the instance's sqlite storage (sqlalchemy, alembic),
#: the CLI (the script multiprocessing re-runs as ``__mp_main__`` in each child), MLflow's client
#: and sqlite store, and the object-storage stack
PRELOAD = ["ser_pipeline.definitions", "dagster._cli", "dagster._core.storage.sqlite_storage", "mlflow.tracking",
           "mlflow.store.tracking.sqlalchemy_store", "upath", "s3fs"]

#: per-process TMPDIR: at interpreter start and in every forked child (forkserver steps)
SITECUSTOMIZE = '''\
import os
import tempfile

_BASE = os.environ.get("STEP_TMP_BASE")


def _own_tmpdir():
    os.environ["TMPDIR"] = tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=_BASE)
    tempfile.tempdir = None  # recomputed from TMPDIR


if _BASE:
    _own_tmpdir()
    os.register_at_fork(after_in_child=_own_tmpdir)
'''


@pytest.fixture
def short_tmp():
    """A folder with a short path in the system temp folder (removed afterwards)."""
    path = Path(tempfile.mkdtemp(prefix="mp-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _digests(files: dict[str, bytes], run_id: str) -> dict[str, str]:
    """sha256 of the compared kinds by relative path (``run_id`` written ``<run>``), sorted by path parts."""
    digests = {}
    for path, data in files.items():
        key = path.replace(f"/{run_id}/", "/<run>/")
        if any(key.startswith(prefix) for prefix in KINDS.values()) and not key.endswith(".lock"):
            digests[key] = hashlib.sha256(data).hexdigest()
    return dict(sorted(digests.items(), key=lambda kv: kv[0].split("/")))


def _current_builds(files: dict[str, bytes]) -> dict[str, bytes]:
    """``files`` of a bucket data folder with each audio cache as a local build lays it out: the
    files of the build folder its pointer (``audio_cache/<corpus>/CURRENT``) names moved up to
    ``audio_cache/<corpus>/``, the pointer itself and unnamed builds left out."""
    from ser_pipeline.audio.cache import POINTER, read_pointer

    builds = {key.rsplit("/", 1)[0]: read_pointer(data, key) for key, data in files.items()
              if key.startswith("audio_cache/") and key.endswith(f"/{POINTER}")}
    out = {}
    for key, data in files.items():
        corpus = "/".join(key.split("/")[:2])
        if corpus not in builds:
            out[key] = data
        elif key.startswith(f"{corpus}/{builds[corpus]}/"):
            out[f"{corpus}/{key.removeprefix(f'{corpus}/{builds[corpus]}/')}"] = data
    return out


def _start(name: str, tmp_path: Path, short_tmp: Path, cwd: Path, env: dict, mlflow_store: Path) -> dict:
    """Start ``dagster job execute ... -j full_pipeline`` with its own DAGSTER_HOME and base folder
    for the per-process TMPDIRs (below ``short_tmp``: the forkserver's socket lives in its
    TMPDIR, and AF_UNIX paths are limited to 107 bytes)."""
    home, tmp_base = tmp_path / f"home_{name}", Path(tempfile.mkdtemp(prefix=f"{name}-", dir=short_tmp))
    home.mkdir()
    shutil.copyfile(mlflow_store, tmp_path / f"mlflow_{name}.db")  # one each (the migrated empty store)
    config = {
        "ops": {"emotion_model": {"config": {**TINY_TRAIN, "epochs": 1, "register_model": False}}},
        "execution": {"config": {"multiprocess": {
            "max_concurrent": 2, "start_method": {"forkserver": {"preload_modules": PRELOAD}}}}},
        "loggers": {"console": {"config": {"log_level": "WARNING"}}},
    }
    (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(config))
    env = {**env, "DAGSTER_HOME": str(home), "STEP_TMP_BASE": str(tmp_base), "OMP_NUM_THREADS": "1",
           "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow_{name}.db",
           "PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), str(REPO), os.environ.get("PYTHONPATH", "")])}
    log = (tmp_path / f"{name}.log").open("w")
    dagster = Path(sys.executable).with_name("dagster")
    proc = subprocess.Popen([str(dagster), "job", "execute", "-m", "ser_pipeline.definitions", "-j", "full_pipeline",
                             "-c", str(tmp_path / f"{name}.yaml")], env=env, cwd=cwd, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    return {"proc": proc, "log": log, "home": home, "tmp": tmp_base}


def _wait(run: dict) -> None:
    rc = run["proc"].wait(timeout=900)
    run["log"].close()
    assert rc == 0, Path(run["log"].name).read_text()[-5000:]


def _finished_run(home: Path) -> tuple[str, dict[str, int]]:
    """The run id of the one successful run in ``home`` and the pid of each step's process (from
    its STEP_WORKER_STARTED event)."""
    with dg.DagsterInstance.from_config(str(home)) as instance:
        [run] = instance.get_runs()
        assert run.status == dg.DagsterRunStatus.SUCCESS
        records = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.STEP_WORKER_STARTED).records
    return run.run_id, {r.event_log_entry.step_key: int(r.event_log_entry.dagster_event.event_specific_data.metadata[
        "pid"].value) for r in records}


def _pid(tmpdir: Path) -> int:
    return int(tmpdir.name.split("-")[0])


@pytest.mark.e2e
def test_full_pipeline_multiprocess_on_a_bucket_is_byte_identical_to_local_folders(s3, corpus_factory, short_tmp,
                                                                                   tmp_path, mlflow_store_template):
    corpora = tmp_path / "corpora"
    corpora.mkdir()
    for name in NAMES:
        (corpora / name).symlink_to(corpus_factory(name, speakers=2, per_class=1), target_is_directory=True)
    bucket = s3.new_bucket()
    s3.upload(corpora, f"s3://{bucket}/corpora")
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(SITECUSTOMIZE)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    cwd.chmod(0o555)

    base = {k: v for k, v in os.environ.items() if not k.startswith("SER_")}
    runs = {}
    try:  # both at once: each run's imports, training and evaluation tail leave a core idle
        runs["local"] = _start("local", tmp_path, short_tmp, cwd, {
            **base, "SER_CORPORA_ROOT": str(corpora), "SER_DATA_DIR": str(tmp_path / "data")}, mlflow_store_template)
        runs["s3"] = _start("s3", tmp_path, short_tmp, cwd, {
            **base, "SER_CORPORA_ROOT": f"s3://{bucket}/corpora", "SER_DATA_DIR": f"s3://{bucket}/data"},
            mlflow_store_template)
        for run in runs.values():
            _wait(run)
    finally:
        for run in runs.values():
            if run["proc"].poll() is None:
                os.killpg(run["proc"].pid, signal.SIGKILL)  # the CLI, its forkserver and steps
        cwd.chmod(0o755)

    # each step ran in a process of its own, with a TMPDIR of its own (named after its pid)
    run_ids, step_pids = {}, {}
    for name, run in runs.items():
        run_ids[name], pids = _finished_run(run["home"])
        step_pids[name] = set(pids.values())
        assert len(pids) > 40 and len(step_pids[name]) == len(pids)
        assert step_pids[name] <= {_pid(p) for p in run["tmp"].iterdir()}
    # the steps writing to the bucket staged their files in their own TMPDIR
    staged = {_pid(p.parent) for p in runs["s3"]["tmp"].glob("*/ser-scratch")}
    assert len(staged & step_pids["s3"]) > 1

    data = tmp_path / "data"
    local = _digests({p.relative_to(data).as_posix(): p.read_bytes() for p in data.rglob("*") if p.is_file()},
                     run_ids["local"])
    fs = s3.fs()
    remote = _digests(_current_builds({k.removeprefix(f"{bucket}/data/"): fs.cat_file(k)
                                       for k in fs.find(f"{bucket}/data")}), run_ids["s3"])
    for kind, prefix in KINDS.items():
        assert any(k.startswith(prefix) for k in local), kind
    assert list(remote) == list(local)
    assert remote == local
    # what names the bucket run landed in the bucket too: spec, export, report, MLflow artifacts
    keys = set(fs.find(f"{bucket}/data"))
    for key in (f"models/{run_ids['s3']}/spec.yaml", f"models/{run_ids['s3']}/export/model.safetensors",
                f"reports/{run_ids['s3']}/MODEL_CARD.md"):
        assert f"{bucket}/data/{key}" in keys, key
    artifacts = [k for k in keys if k.startswith(f"{bucket}/data/mlartifacts/")]
    assert any(k.endswith("/model/model.safetensors") for k in artifacts), artifacts
    assert any(k.endswith("/report/MODEL_CARD.md") for k in artifacts), artifacts
    assert not list(cwd.iterdir())  # root ignores the mode: nothing was written all the same
    assert not url_folders(tmp_path, cwd, short_tmp)
