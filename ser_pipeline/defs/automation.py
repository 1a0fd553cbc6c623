"""Automation: observed corpus folders, declarative re-materialization, training schedule/sensor.

* ``raw/<name>``: an observable source asset per corpus folder whose data version is the folder's
  fingerprint; observed on a cron (``SER_OBSERVE_CRON``, default hourly).
* The corpus tables and label assets re-materialize when an upstream data version or their own
  code version changes (``eager() | code_version_changed()``) — and only then.
* Training is not retriggered by every table change: a schedule (``SER_TRAIN_CRON``, default
  weekly) and a sensor that starts ``train_and_evaluate`` once per new training-split data version.
  ``SER_TRAIN_SCHEDULE=off`` / ``SER_TRAIN_SENSOR=off`` switch them off.
"""

import os

import dagster as dg

from ser_pipeline.corpora.fingerprint import corpus_fingerprint
from ser_pipeline.defs.resources import CorporaResource

OBSERVE_CRON = os.environ.get("SER_OBSERVE_CRON", "0 * * * *")
TRAIN_CRON = os.environ.get("SER_TRAIN_CRON", "0 3 * * 0")
SPLITS_KEY = dg.AssetKey("splits")

#: The condition of every data asset: materialize on new upstream data or a new code version.
DATA_CONDITION = dg.AutomationCondition.eager() | dg.AutomationCondition.code_version_changed()


def raw_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", name])


def make_raw_corpus_asset(name: str) -> dg.SourceAsset:
    """The observable source asset for the folder of corpus ``name``."""

    @dg.observable_source_asset(
        key=raw_key(name), group_name="raw",
        description=f"The {name} corpus folder as distributed; data version = fingerprint of its files.",
        automation_condition=dg.AutomationCondition.cron_tick_passed(OBSERVE_CRON),
    )
    def _raw(context: dg.AssetExecutionContext, corpora: CorporaResource) -> dg.DataVersion:
        root = corpora.root_for(name)
        digest, n = corpus_fingerprint(root)
        context.log.info(f"{name}: {n} files under {root}, fingerprint {digest}")
        return dg.DataVersion(digest)

    return _raw


def _switch(var: str) -> dg.DefaultSensorStatus:
    return dg.DefaultSensorStatus.STOPPED if os.environ.get(var, "on").lower() in ("off", "0", "false") \
        else dg.DefaultSensorStatus.RUNNING


def make_training_schedule(job) -> dg.ScheduleDefinition:
    """Weekly retraining (``SER_TRAIN_CRON``); ``SER_TRAIN_SCHEDULE=off`` leaves it stopped."""
    status = dg.DefaultScheduleStatus.STOPPED if os.environ.get("SER_TRAIN_SCHEDULE", "on").lower() in (
        "off", "0", "false") else dg.DefaultScheduleStatus.RUNNING
    return dg.ScheduleDefinition(name="weekly_training", job=job, cron_schedule=TRAIN_CRON, default_status=status,
                                 description="Retrain and evaluate on the current splits.")


def make_training_sensor(job) -> dg.SensorDefinition:
    """Starts ``job`` once per new data version of the training split (the ``splits`` asset)."""

    @dg.sensor(name="new_training_data", job=job, default_status=_switch("SER_TRAIN_SENSOR"),
               minimum_interval_seconds=300,
               description="Retrain when the training split's data version changed since the last model.")
    def _sensor(context: dg.SensorEvaluationContext):
        event = context.instance.get_latest_materialization_event(SPLITS_KEY)
        if event is None or event.asset_materialization is None:
            return dg.SkipReason("splits has never been materialized")
        version = (event.asset_materialization.tags or {}).get("dagster/data_version")
        if not version:
            return dg.SkipReason("the latest splits materialization carries no data version")
        if version == context.cursor:
            return dg.SkipReason(f"training split unchanged (data version {version})")
        return dg.SensorResult(run_requests=[dg.RunRequest(run_key=f"splits:{version}",
                                                           tags={"ser/splits_data_version": version})],
                               cursor=version)

    return _sensor


def make_automation_sensor() -> dg.AutomationConditionSensorDefinition:
    """Evaluates the declarative conditions (needs the daemon); GPU tags reach automated runs here."""
    return dg.AutomationConditionSensorDefinition(
        "data_automation", target=dg.AssetSelection.all(), default_status=dg.DefaultSensorStatus.RUNNING,
        run_tags={"ser/launched_by": "automation"}, minimum_interval_seconds=60,
        description="Observes corpus folders on their cron and re-materializes exactly what changed.",
    )
