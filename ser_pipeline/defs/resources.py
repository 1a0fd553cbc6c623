"""Resources: where corpora live, the data folder, and MLflow tracking.

The data folder is one resource (:class:`DataDirResource`); the IO manager and MLflow take it as
a nested resource, so tables, models and the MLflow store always sit under the same folder.
Defaults come from :mod:`ser_pipeline.settings` (the one place that reads the environment).
"""


import contextlib
import json
import logging
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dagster as dg

from ser_pipeline import settings, storage


def resolved_root(resolve: Callable[..., Any], *args: Any):
    """``resolve(*args)`` (a :mod:`settings` function); a value it refuses (a malformed URL, no
    MLflow store for a data folder on object storage) is a one-line ``dg.Failure`` naming the setting."""
    try:
        return resolve(*args)
    except ValueError as exc:
        raise dg.Failure(str(exc)) from None


def reachable(root):
    """``root`` itself; on object storage after one cheap request, a bucket that is missing, refused
    credentials or an unreachable endpoint being a one-line ``dg.Failure`` naming the URL and the
    cause (:func:`storage.check_access`)."""
    if storage.is_remote(root):
        try:
            storage.check_access(root)
        except storage.StorageError as exc:
            raise dg.Failure(str(exc)) from None
    return root


class CorporaResource(dg.ConfigurableResource):
    """Where each corpus folder is: ``<root>/<name>`` unless ``overrides`` names another folder.

    ``root`` defaults to ``$SER_CORPORA_ROOT``, else ``./corpora`` (:func:`settings.corpora_root`).
    Roots may be object-storage URLs (``s3://bucket/corpora``); credentials and endpoint come
    from the standard variables (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ...), and
    ``storage_options`` adds fsspec options (``{"endpoint_url": ..., "anon": true}``).
    """

    root: str | None = None
    overrides: dict[str, str] = {}
    storage_options: dict[str, Any] = {}

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # A malformed root, a missing bucket, rejected credentials or an unreachable endpoint
        # stops the step here, naming the URL and the cause, before any scan.
        for root in [self.base(), *(self.root_for(n) for n in self.overrides)]:
            reachable(root)

    def base(self):
        """The corpora root: a ``Path``, or a ``UPath`` for object storage."""
        return resolved_root(settings.corpora_root, self.root, "resources.corpora.config.root",
                          self.storage_options or None)

    def root_for(self, name: str):
        """The folder of corpus ``name`` (a ``Path`` or ``UPath``)."""
        if name in self.overrides:
            return resolved_root(storage.as_root, self.overrides[name], f"resources.corpora.config.overrides.{name}",
                              self.storage_options or None)
        return self.base() / name

    def roots(self, names) -> dict[str, str]:
        return {n: str(self.root_for(n)) for n in names}

    def present(self, names) -> list[str]:
        """The corpora of ``names`` whose folder exists (a quick stat or listing per corpus, no scan)."""
        return [n for n in names if self.root_for(n).is_dir()]


class DataDirResource(dg.ConfigurableResource):
    """Where tables, models, rejects and the default MLflow store go: ``path``, else
    ``$SER_DATA_DIR``, else ``./data`` (:func:`settings.data_dir`). The IO manager and
    :class:`MlflowResource` take this resource nested, so they cannot disagree about it.

    ``path`` may be an object-storage URL (``s3://bucket/data``): the tables (corpora, rejects,
    labels, splits) go there through fsspec; ``storage_options`` adds fsspec options
    (``{"endpoint_url": ...}``), credentials come from the standard variables. Every step reads
    and writes through it: the tables, the audio cache, training runs, reports, the Hume
    fine-tune and the studies."""

    path: str | None = None
    storage_options: dict[str, Any] = {}

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # a malformed root, a missing bucket or unusable credentials stop the step here, before any work
        reachable(self.base())

    def base(self):
        """The data folder: an absolute ``Path`` (created), or a ``UPath`` on object storage
        (where folders need not be created)."""
        p = resolved_root(settings.data_dir, self.path, "resources.data_dir.config.path",
                          self.storage_options or None)
        if not storage.is_remote(p):
            p.mkdir(parents=True, exist_ok=True)
        return p

    def is_remote(self) -> bool:
        """Whether the data folder is on object storage."""
        return storage.is_remote(self.base())

    def staging_dir(self) -> Path:
        """A local folder for files a step writes before the IO manager puts them in place:
        ``<data>/tmp`` for a local data folder (same filesystem: the move is a rename),
        ``<scratch>/ser-staging`` for object storage (:func:`settings.scratch_dir`)."""
        p = self.base()
        return resolved_root(settings.scratch_dir) / "ser-staging" if storage.is_remote(p) else p / "tmp"


_FALLBACKS: dict[str, str] = {}  # configured URI -> local fallback URI (per process)


class _RetryForwarder(logging.Handler):
    """Passes urllib3's "Retrying (...)" warnings (MLflow's HTTP client retries) to the step's log,
    so a slow tracking server shows in the run log instead of a silent wait."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.target = None

    def emit(self, record: logging.LogRecord) -> None:
        if self.target is not None and record.getMessage().startswith("Retrying"):
            self.target.warning(f"MLflow HTTP request retried: {record.getMessage()}")


_RETRIES = _RetryForwarder()
logging.getLogger("urllib3.connectionpool").addHandler(_RETRIES)


class MlflowResource(dg.ConfigurableResource):
    """A small MLflow client wrapper with explicit run ids (no global active run).

    ``tracking_uri`` defaults to ``$MLFLOW_TRACKING_URI``, else ``sqlite:///<data dir>/mlflow.db``
    (:func:`settings.tracking_uri`). Experiments it creates on a local store keep their artifacts
    in ``<data dir>/mlartifacts``, never in ``./mlruns`` of the working directory.
    """

    data_dir: DataDirResource
    tracking_uri: str | None = None
    experiment_name: str = "ser_pipeline"
    # What to do when the tracking server cannot be reached: "fail" (before any training starts)
    # or "local" (log to sqlite:///<data dir>/mlflow_fallback.db and say so).
    on_unavailable: str = "fail"
    # The probe: one API call (not /health, which a hung server still answers), this long per try,
    # retried request_max_retries times, each retry logged.
    probe_timeout_s: float = 5.0
    # MLflow's own HTTP client for every later call (MLFLOW_HTTP_REQUEST_TIMEOUT / _MAX_RETRIES;
    # MLflow's defaults, 120 s and 7 retries with backoff, can block a step for many minutes).
    request_timeout_s: int = 30
    request_max_retries: int = 2

    def _configured_uri(self) -> str:
        # with a data folder on object storage there is no default store: a Failure asks for one
        return resolved_root(settings.tracking_uri, self.data_dir.base(), self.tracking_uri)

    def uri(self) -> str:
        """The tracking URI in use (the local fallback once :meth:`ensure_available` switched to it)."""
        configured = self._configured_uri()
        return _FALLBACKS.get(configured, configured)

    def ensure_available(self, log=None) -> str:
        """Probe the tracking store with a short timeout; fail fast with a clear message, or switch
        to the local fallback store when ``on_unavailable == "local"``. Returns the URI in use."""
        if self.on_unavailable not in ("fail", "local"):
            raise ValueError(f"mlflow.on_unavailable must be 'fail' or 'local', not {self.on_unavailable!r}")
        configured = self._configured_uri()
        if configured.startswith(("http://", "https://")):
            self._apply_http_settings()
            _RETRIES.target = log
            problem = self._probe_api(configured, log)
            if problem is None:
                return configured
        else:
            try:
                self.client().search_experiments(max_results=1)
                return configured
            except Exception as exc:  # a broken sqlite path, a bad scheme ...
                problem = f"MLflow tracking store unusable at {configured}: {exc}"
        if self.on_unavailable == "fail":
            raise RuntimeError(f"{problem}. Start the server, fix MLFLOW_TRACKING_URI, or set "
                               "resources.mlflow.config.on_unavailable: local to log to a local store.")
        fallback = resolved_root(settings.fallback_tracking_uri, self.data_dir.base())
        _FALLBACKS[configured] = fallback
        if log is not None:
            log.warning(f"{problem}; logging to the local fallback store {fallback}")
        return fallback

    def _apply_http_settings(self) -> None:
        """MLflow's HTTP client reads its timeout and retries from the environment at each request
        (and the Pipes training subprocess inherits them)."""
        if self.request_timeout_s < 1 or self.request_max_retries < 0:
            raise ValueError(f"mlflow.request_timeout_s must be >= 1 and request_max_retries >= 0, found "
                             f"{self.request_timeout_s} and {self.request_max_retries}")
        os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = str(self.request_timeout_s)
        os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = str(self.request_max_retries)

    def _probe_api(self, uri: str, log) -> str | None:
        """GET experiments/search (a store query, unlike /health) with ``probe_timeout_s`` per try and
        ``request_max_retries`` retries. Returns None when the server answered, else the problem."""
        url = f"{uri.rstrip('/')}/api/2.0/mlflow/experiments/search?" + urllib.parse.urlencode({"max_results": 1})
        tries = self.request_max_retries + 1
        for attempt in range(1, tries + 1):
            try:
                with urllib.request.urlopen(url, timeout=self.probe_timeout_s) as resp:
                    json.loads(resp.read() or b"{}")  # an MLflow answer, not a proxy's HTML page
                return None
            except urllib.error.HTTPError as exc:  # the server answered, but with an error
                problem = f"MLflow tracking server at {uri} answered {exc.code} {exc.reason} to {url}"
            except (urllib.error.URLError, OSError, ValueError) as exc:  # refused, reset, timed out
                reason = getattr(exc, "reason", exc)
                if isinstance(reason, TimeoutError) or isinstance(exc, TimeoutError):
                    problem = (f"MLflow tracking server at {uri} accepted the connection but did not answer "
                               f"{url} within {self.probe_timeout_s:g} s")
                else:
                    problem = f"MLflow tracking server unreachable at {uri}: {reason}"
            if attempt < tries:
                if log is not None:
                    log.warning(f"{problem} (try {attempt}/{tries}); retrying")
                time.sleep(min(2.0 ** (attempt - 1), 5.0))
        return f"{problem} (after {tries} tries)"

    def client(self):
        """A client on this store, for runs and the model registry alike (the registry lives in
        the tracking store; naming it keeps a process-wide registry URI that an earlier
        registration set for another store from redirecting this client)."""
        from mlflow.tracking import MlflowClient

        if self.uri().startswith(("http://", "https://")):
            self._apply_http_settings()
        return MlflowClient(tracking_uri=self.uri(), registry_uri=self.uri())

    def artifact_location(self) -> str | None:
        """Artifact location for a new experiment: ``<data dir>/mlartifacts`` for a local store or
        a data folder on object storage (``s3://bucket/data/mlartifacts``, beside the tables);
        None (the server decides) for a tracking server with a local data folder."""
        if self.data_dir.is_remote():
            return settings.default_artifact_location(self.data_dir.base())
        if self.uri().startswith(("http://", "https://", "databricks")):
            return None
        return settings.default_artifact_location(self.data_dir.base())

    def experiment_id(self) -> str:
        c = self.client()
        exp = c.get_experiment_by_name(self.experiment_name)
        if exp:
            return exp.experiment_id
        return c.create_experiment(self.experiment_name, artifact_location=self.artifact_location())

    def create_run(self, run_name: str, tags: dict[str, str]) -> str:
        """Start a run and return its id."""
        run = self.client().create_run(self.experiment_id(), run_name=run_name, tags=tags)
        return run.info.run_id

    def log_params(self, run_id: str, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        c = self.client()
        items = [Param(k, str(v)[:6000]) for k, v in params.items()]
        for i in range(0, len(items), 100):
            c.log_batch(run_id, params=items[i: i + 100])

    def log_metrics(self, run_id: str, metrics: dict[str, float], step: int = 0) -> None:
        import time

        from mlflow.entities import Metric

        ts = int(time.time() * 1000)
        items = [Metric(k, float(v), ts, step) for k, v in metrics.items() if v is not None]
        c = self.client()
        for i in range(0, len(items), 500):
            c.log_batch(run_id, metrics=items[i: i + 500])

    def log_artifacts(self, run_id: str, local_dir: str | Path, artifact_path: str | None = None) -> None:
        self.client().log_artifacts(run_id, str(local_dir), artifact_path)

    def log_artifact(self, run_id: str, local_path: str | Path, artifact_path: str | None = None) -> None:
        self.client().log_artifact(run_id, str(local_path), artifact_path)

    def end_run(self, run_id: str, status: str = "FINISHED") -> None:
        self.client().set_terminated(run_id, status=status)

    def fail_orphaned_runs(self, dagster_run_over, log=None) -> list[str]:
        """Mark FAILED this experiment's RUNNING runs whose Dagster run (tag ``dagster_run_id``) is
        over: ``dagster_run_over(run_id)`` is True (a run killed with SIGKILL ends no MLflow run).
        Returns the MLflow run ids marked."""
        c = self.client()
        exp = c.get_experiment_by_name(self.experiment_name)
        if exp is None:
            return []
        marked = []
        for run in c.search_runs([exp.experiment_id], filter_string="attributes.status = 'RUNNING'",
                                 max_results=1000):
            dagster_run_id = run.data.tags.get("dagster_run_id")
            if dagster_run_id and dagster_run_over(dagster_run_id):
                c.set_terminated(run.info.run_id, status="FAILED")
                marked.append(run.info.run_id)
                if log is not None:
                    log.warning(f"MLflow run {run.info.run_id} of ended Dagster run {dagster_run_id} "
                                "was still RUNNING: marked FAILED")
        return marked

    @contextlib.contextmanager
    def run(self, run_name: str, tags: dict[str, str]) -> Iterator[str]:
        """A run that ends FINISHED on success and FAILED on an exception."""
        run_id = self.create_run(run_name, tags)
        try:
            yield run_id
        except BaseException:
            self.end_run(run_id, "FAILED")
            raise
        self.end_run(run_id, "FINISHED")

    def run_url(self, run_id: str) -> str:
        return f"{self.uri()}#/experiments/{self.experiment_id()}/runs/{run_id}"
