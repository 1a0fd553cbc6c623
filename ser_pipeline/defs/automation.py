"""Automation: observed corpus folders, declarative re-materialization, opt-in training.

* ``raw/<name>``: an observable source asset per corpus folder whose data version is the folder's
  fingerprint; observed on a cron (``SER_OBSERVE_CRON``, default hourly) by the ``data_automation``
  sensor, which targets the source assets too and runs by default.
* The corpus tables and label assets re-materialize when an upstream data version or their own
  code version changes (``eager() | code_version_changed()``) — and only then.
* Training never starts on its own in a fresh instance: the ``weekly_training`` schedule
  (``SER_TRAIN_CRON``) and the ``new_training_data`` sensor (once per new training-split data
  version) are stopped unless ``SER_TRAIN_SCHEDULE=on`` / ``SER_TRAIN_SENSOR=on``. When on, they
  launch ``train_and_evaluate`` with a run config the user chose: the file ``SER_TRAIN_RUN_CONFIG``
  names, else the config of the last successful training run that materialized ``emotion_model``
  (only the parts the job accepts). With neither they skip and say how to set one — they never
  train with the defaults.
"""

from collections.abc import Mapping

import dagster as dg
import yaml

from ser_pipeline import settings
from ser_pipeline.corpora.fingerprint import corpus_fingerprint
from ser_pipeline.defs.resources import CorporaResource

SPLITS_KEY = dg.AssetKey("splits")
MODEL_KEY = dg.AssetKey("emotion_model")
#: jobs whose successful runs (that materialized emotion_model) give automated training its config
TRAINING_JOBS = ("train_and_evaluate", "full_pipeline")
#: how many recent emotion_model materializations are searched for a successful training run
_HISTORY = 50

#: The condition of every data asset: materialize on new upstream data or a new code version.
DATA_CONDITION = dg.AutomationCondition.eager() | dg.AutomationCondition.code_version_changed()
#: The label assets' condition: as DATA_CONDITION, except that a dependency never materialized does
#: not hold them back. They gather every corpus, and an absent corpus is never materialized (its
#: stored table, if any, is kept), so eager()'s "no dep missing" would stop them for good on any
#: collection short of all 21 corpora.
GATHER_CONDITION = (dg.AutomationCondition.eager().without(~dg.AutomationCondition.any_deps_missing())
                    | dg.AutomationCondition.code_version_changed())


def raw_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", name])


def make_raw_corpus_asset(name: str) -> dg.SourceAsset:
    """The observable source asset for the folder of corpus ``name``."""

    @dg.observable_source_asset(
        key=raw_key(name), group_name="raw",
        description=f"The {name} corpus folder as distributed; data version = fingerprint of its files.",
        automation_condition=dg.AutomationCondition.cron_tick_passed(settings.observe_cron()),
    )
    def _raw(context: dg.AssetExecutionContext, corpora: CorporaResource) -> dg.DataVersion:
        root = corpora.root_for(name)
        digest, n = corpus_fingerprint(root)
        context.log.info(f"{name}: {n} files under {root}, fingerprint {digest}")
        return dg.DataVersion(digest)

    return _raw


def latest_splits_version(instance: dg.DagsterInstance) -> str | None:
    """The data version of the latest ``splits`` materialization (what training reads), or None."""
    event = instance.get_latest_materialization_event(SPLITS_KEY)
    if event is None or event.asset_materialization is None:
        return None
    return (event.asset_materialization.tags or {}).get("dagster/data_version") or None


def _status(on: bool) -> dg.DefaultSensorStatus:
    return dg.DefaultSensorStatus.RUNNING if on else dg.DefaultSensorStatus.STOPPED


HOW_TO_CHOOSE = ("set SER_TRAIN_RUN_CONFIG to a run config file (e.g. configs/demo.yaml), or run "
                 "train_and_evaluate / full_pipeline once with the config you want")


def config_for_job(run_config: Mapping, job: dg.JobDefinition) -> dict:
    """The parts of ``run_config`` that ``job`` accepts: ``ops`` of the nodes it runs, the resources
    it binds, and ``execution`` / ``loggers`` (so a ``full_pipeline`` config serves
    ``train_and_evaluate``)."""
    nodes = set(job.graph.node_dict)
    out = {k: v for k, v in run_config.items() if k in ("execution", "loggers")}
    ops = {k: v for k, v in (run_config.get("ops") or {}).items() if k in nodes}
    resources = {k: v for k, v in (run_config.get("resources") or {}).items() if k in job.resource_defs}
    if ops:
        out["ops"] = ops
    if resources:
        out["resources"] = resources
    return out


def last_training_run_config(instance: dg.DagsterInstance) -> tuple[dict, str] | None:
    """(run config, run id) of the latest successful ``train_and_evaluate`` / ``full_pipeline`` run
    that trained ``emotion_model`` (runs that only adopted a ``model_file`` do not count), or None."""
    records = instance.fetch_materializations(MODEL_KEY, limit=_HISTORY).records
    seen = set()
    for record in records:
        if record.run_id in seen:
            continue
        seen.add(record.run_id)
        run = instance.get_run_by_id(record.run_id)
        if run is None or run.status != dg.DagsterRunStatus.SUCCESS or run.job_name not in TRAINING_JOBS:
            continue
        model_config = ((run.run_config.get("ops") or {}).get("emotion_model") or {}).get("config") or {}
        if model_config.get("model_file"):
            continue
        return dict(run.run_config), run.run_id
    return None


def training_run_config(instance: dg.DagsterInstance, job: dg.JobDefinition) -> tuple[dict, str] | str:
    """The run config automated training uses for ``job`` and where it came from, or the reason
    there is none (one line: what to set)."""
    path = settings.train_run_config_path()
    if path is not None:
        try:
            loaded = yaml.safe_load(path.read_text())  # YAML is a superset of JSON
        except (OSError, yaml.YAMLError) as exc:
            return f"SER_TRAIN_RUN_CONFIG={path}: cannot read it ({exc})"
        if not isinstance(loaded, dict):
            return f"SER_TRAIN_RUN_CONFIG={path}: not a run config mapping"
        config, source = config_for_job(loaded, job), f"file {path}"
    else:
        last = last_training_run_config(instance)
        if last is None:
            return f"no run config chosen for automated training: {HOW_TO_CHOOSE}"
        config, source = config_for_job(last[0], job), f"run {last[1]}"
    try:
        dg.validate_run_config(job, config)
    except dg.DagsterInvalidConfigError as exc:
        problems = "; ".join(e.message for e in exc.errors)
        return f"the run config from {source} does not fit {job.name}: {problems}"
    return config, source


def _training_request(context, job_name: str, run_key: str | None, tags: dict[str, str]):
    """A RunRequest carrying the chosen run config, or a SkipReason that says what to set."""
    job = context.repository_def.get_job(job_name)
    chosen = training_run_config(context.instance, job)
    if isinstance(chosen, str):
        return dg.SkipReason(chosen)
    config, source = chosen
    context.log.info(f"{job_name}: run config from {source}")
    return dg.RunRequest(run_key=run_key, run_config=config,
                         tags={**tags, "ser/run_config_source": source[:255]})


def make_training_schedule(job) -> dg.ScheduleDefinition:
    """Retraining on ``SER_TRAIN_CRON`` with the chosen run config; stopped unless
    ``SER_TRAIN_SCHEDULE=on``."""

    @dg.schedule(name="weekly_training", job=job, cron_schedule=settings.train_cron(),
                 default_status=dg.DefaultScheduleStatus.RUNNING if settings.train_schedule_on()
                 else dg.DefaultScheduleStatus.STOPPED,
                 description="Retrain and evaluate on the current splits with the chosen run config "
                             "(SER_TRAIN_RUN_CONFIG, else the last training run's). Off unless SER_TRAIN_SCHEDULE=on.")
    def _schedule(context: dg.ScheduleEvaluationContext):
        return _training_request(context, job.name, None, {"ser/launched_by": "weekly_training"})

    return _schedule


def make_training_sensor(job) -> dg.SensorDefinition:
    """Starts ``job`` once per new data version of the training split (the ``splits`` asset), with
    the chosen run config; stopped unless ``SER_TRAIN_SENSOR=on``."""

    @dg.sensor(name="new_training_data", job=job, default_status=_status(settings.train_sensor_on()),
               minimum_interval_seconds=300,
               description="Retrain when the training split's data version changed since the last model, with the "
                           "chosen run config. Off unless SER_TRAIN_SENSOR=on.")
    def _sensor(context: dg.SensorEvaluationContext):
        version = latest_splits_version(context.instance)
        if not version:
            return dg.SkipReason("splits has no materialization with a data version yet")
        if version == context.cursor:
            return dg.SkipReason(f"training split unchanged (data version {version})")
        request = _training_request(context, job.name, f"splits:{version}",
                                    {"ser/splits_data_version": version, "ser/launched_by": "new_training_data"})
        if isinstance(request, dg.SkipReason):
            return request  # cursor kept: the same split version trains once a config is chosen
        return dg.SensorResult(run_requests=[request], cursor=version)

    return _sensor


def make_automation_sensor() -> dg.AutomationConditionSensorDefinition:
    """Evaluates the declarative conditions (needs the daemon), running by default. It targets the
    ``raw/*`` observable sources as well (``include_sources``): without them their
    ``cron_tick_passed`` condition is never evaluated and no folder is ever observed. GPU tags
    reach automated runs here."""
    return dg.AutomationConditionSensorDefinition(
        "data_automation", target=dg.AssetSelection.all(include_sources=True),
        default_status=dg.DefaultSensorStatus.RUNNING,
        run_tags={"ser/launched_by": "automation"}, minimum_interval_seconds=60,
        description="Observes corpus folders on their cron and re-materializes exactly what changed.",
    )
