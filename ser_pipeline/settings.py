"""The project's settings from the environment: the one module that reads them.

Each variable is read in exactly one function below, when that function is called (never at
import), so a test or a run that sets a variable sees it. Dagster resources (``defs/resources.py``),
the ``ser`` command and the corpus scan all ask these functions, so they agree on the data folder
and the MLflow store. Plain Python: importable without dagster or mlflow.

===========================  ==========================================  =========================
variable                     meaning                                     default
===========================  ==========================================  =========================
``SER_DATA_DIR``             tables, models, MLflow store and artifacts  ``./data``
                             (a path or an ``s3://`` / fsspec URL)
``SER_SCRATCH_DIR``          node-local scratch: files staged before an  ``<tmp>/ser-scratch``
                             upload, block cache of audio-cache shards
                             streamed from object storage
``SER_CORPORA_ROOT``         one folder per corpus registry name (a      ``./corpora``
                             path or an ``s3://`` / fsspec URL)
``MLFLOW_TRACKING_URI``      the MLflow tracking store                   ``sqlite:///<data>/mlflow.db``
                                                                         (required when the data
                                                                         folder is a URL)
``SER_SCAN_WORKERS``         header-probe processes per corpus scan      the CPU count
``SER_SCAN_MEMORY_KEYS``     paths / ids a scan keeps in memory          131,072
``SER_MAX_REJECT_SHARE``     reject share above which a check warns      0.05
``SER_OBSERVE_CRON``         when corpus folders are fingerprinted       ``0 * * * *`` (hourly)
``SER_TRAIN_CRON``           when ``weekly_training`` fires              ``0 3 * * 0``
``SER_TRAIN_SENSOR``         ``on``: ``new_training_data`` runs          off
``SER_TRAIN_SCHEDULE``       ``on``: ``weekly_training`` runs            off
``SER_TRAIN_RUN_CONFIG``     YAML/JSON run config automated training     the last successful
                             uses                                        training run's config
===========================  ==========================================  =========================
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ser_pipeline.storage import as_root, is_remote

#: paths / utterance ids a scan keeps in memory before the rest move to disk (about 150 bytes each)
DEFAULT_SCAN_MEMORY_KEYS = 1 << 17
#: share of a corpus's files that may be rejected before the ``reject_share`` check warns
DEFAULT_MAX_REJECT_SHARE = 0.05


def _number_var(name: str, default: float, kind: type, low: float, high: float | None = None):
    """``$name`` parsed with ``kind`` (int or float) and inside [low, high], else ``default``;
    a bad value is a ``ValueError`` naming the variable."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ValueError(f"environment variable {name}={raw!r} is not {'an integer' if kind is int else 'a number'}") from None
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"environment variable {name}={value} must be {bound}")
    return value


def data_dir(override: str | Path | None = None, setting: str = "resources.data_dir.config.path",
             storage_options: dict | None = None):
    """The data folder: ``override`` (named ``setting`` in errors), else ``$SER_DATA_DIR``, else
    ``./data``. A path or ``file://`` URL is an absolute ``Path``; any other URL
    (``s3://bucket/data``) a ``UPath`` with ``storage_options`` (:func:`ser_pipeline.storage.as_root`),
    never a local folder such as ``./s3:/bucket/data``.

    Not created here (callers that write create it)."""
    if override:
        return as_root(override, setting, storage_options)
    return as_root(os.environ.get("SER_DATA_DIR") or "data", "SER_DATA_DIR", storage_options)


def scratch_dir() -> Path:
    """The node-local scratch folder: files staged before they are uploaded to object storage (a
    scan's rows, a table before its PUT, a cache build, a checkpoint) and the block cache of
    audio-cache shards streamed from a bucket. ``$SER_SCRATCH_DIR``, else
    ``<system tmp ($TMPDIR)>/ser-scratch``. Absolute and created; a URL is a ``ValueError``
    naming the variable."""
    raw = os.environ.get("SER_SCRATCH_DIR", "").strip()
    root = as_root(raw, "SER_SCRATCH_DIR") if raw else Path(tempfile.gettempdir()).resolve() / "ser-scratch"
    if is_remote(root):
        raise ValueError(f"SER_SCRATCH_DIR={raw}: the scratch folder must be on this machine")
    root.mkdir(parents=True, exist_ok=True)
    return root


def corpora_root(override: str | Path | None = None, setting: str = "resources.corpora.config.root",
                 storage_options: dict | None = None):
    """The location holding one folder per corpus: ``override`` (named ``setting`` in errors),
    else ``$SER_CORPORA_ROOT``, else ``./corpora``. A path or ``file://`` URL is an absolute
    ``Path``; any other URL (``s3://bucket/corpora``) a ``UPath`` with ``storage_options``
    (:func:`ser_pipeline.storage.as_root`)."""
    if override:
        return as_root(override, setting, storage_options)
    return as_root(os.environ.get("SER_CORPORA_ROOT") or "corpora", "SER_CORPORA_ROOT", storage_options)


def _local_folder(data) -> Path:
    """``data`` for a local MLflow store; a data folder on object storage holds no sqlite file, so
    there it is a ``ValueError`` asking for ``MLFLOW_TRACKING_URI``."""
    if is_remote(data):
        raise ValueError(f"MLFLOW_TRACKING_URI is not set and the data folder {data} is on object storage, "
                         "where MLflow keeps no sqlite store: set MLFLOW_TRACKING_URI (an MLflow server, "
                         "or sqlite:///<local path>.db) or resources.mlflow.config.tracking_uri")
    return Path(data)


def default_tracking_uri(data) -> str:
    """The local MLflow store of a data folder: ``sqlite:///<data>/mlflow.db`` (a ``ValueError``
    for a data folder on object storage)."""
    return f"sqlite:///{_local_folder(data)}/mlflow.db"


def fallback_tracking_uri(data) -> str:
    """Where runs go when the configured MLflow store is down and the user allowed a fallback:
    ``sqlite:///<data>/mlflow_fallback.db`` (a ``ValueError`` for a data folder on object storage)."""
    if is_remote(data):
        raise ValueError(f"the MLflow store is down and the data folder {data} is on object storage, which holds "
                         "no local fallback store: set resources.mlflow.config.on_unavailable: fail, or "
                         "MLFLOW_TRACKING_URI to a store that is up")
    return f"sqlite:///{Path(data)}/mlflow_fallback.db"


def tracking_uri(data, override: str | None = None) -> str:
    """The MLflow tracking URI: ``override``, else ``$MLFLOW_TRACKING_URI``, else
    :func:`default_tracking_uri` of ``data``."""
    return override or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri(data)


def default_artifact_location(data) -> str:
    """Where new MLflow experiments keep artifacts: ``<data>/mlartifacts``, a ``file://`` URI for a
    local data folder, the data URL's ``/mlartifacts`` for object storage (``s3://bucket/data/
    mlartifacts``; MLflow's S3 artifact store reads ``MLFLOW_S3_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL``).

    Set explicitly when an experiment is created, so artifacts of a local store never land in
    ``./mlruns`` of whatever folder a command runs from."""
    if is_remote(data):
        return f"{str(data).rstrip('/')}/mlartifacts"
    return (Path(data).expanduser().resolve() / "mlartifacts").as_uri()


def scan_workers() -> int:
    """Header-probe processes per corpus scan: ``$SER_SCAN_WORKERS``, else the CPU count."""
    return _number_var("SER_SCAN_WORKERS", os.cpu_count() or 1, int, 1)


def scan_memory_keys() -> int:
    """Paths / ids a scan keeps in memory before spilling to disk: ``$SER_SCAN_MEMORY_KEYS``,
    else :data:`DEFAULT_SCAN_MEMORY_KEYS`."""
    return _number_var("SER_SCAN_MEMORY_KEYS", DEFAULT_SCAN_MEMORY_KEYS, int, 1)


def max_reject_share() -> float:
    """Reject share (0..1) above which the ``reject_share`` check warns: ``$SER_MAX_REJECT_SHARE``,
    else :data:`DEFAULT_MAX_REJECT_SHARE`."""
    return _number_var("SER_MAX_REJECT_SHARE", DEFAULT_MAX_REJECT_SHARE, float, 0.0, 1.0)


def observe_cron() -> str:
    """Cron of the corpus-folder observations: ``$SER_OBSERVE_CRON``, else hourly."""
    return os.environ.get("SER_OBSERVE_CRON") or "0 * * * *"


def train_cron() -> str:
    """Cron of the ``weekly_training`` schedule: ``$SER_TRAIN_CRON``, else Sundays 03:00."""
    return os.environ.get("SER_TRAIN_CRON") or "0 3 * * 0"


_ON, _OFF = ("on", "1", "true", "yes"), ("", "off", "0", "false", "no")


def _switch(name: str) -> bool:
    """``$name`` as an on/off switch, off when unset; any other value is a ``ValueError`` naming it."""
    raw = os.environ.get(name, "").strip().lower()
    if raw in _ON:
        return True
    if raw in _OFF:
        return False
    raise ValueError(f"environment variable {name}={raw!r} must be on or off")


def train_sensor_on() -> bool:
    """Whether the ``new_training_data`` sensor starts running: ``$SER_TRAIN_SENSOR=on``; off
    by default, so opening the UI never starts a training run."""
    return _switch("SER_TRAIN_SENSOR")


def train_schedule_on() -> bool:
    """Whether the ``weekly_training`` schedule starts running: ``$SER_TRAIN_SCHEDULE=on``; off
    by default."""
    return _switch("SER_TRAIN_SCHEDULE")


def train_run_config_path() -> Path | None:
    """The run config file (YAML or JSON) automated training runs use: ``$SER_TRAIN_RUN_CONFIG``,
    absolute, or None (then the last successful training run's config is reused)."""
    raw = os.environ.get("SER_TRAIN_RUN_CONFIG", "").strip()
    return Path(raw).expanduser().resolve() if raw else None
