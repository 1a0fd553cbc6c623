"""Training automation never surprises the user (issue 15.1): the training sensor and schedule are
off unless switched on, and the runs they request carry a run config the user chose (a file named
by SER_TRAIN_RUN_CONFIG, else the last successful training run's), never the defaults."""

from pathlib import Path

import dagster as dg
import pytest
import yaml

from ser_pipeline.defs.automation import config_for_job, make_training_schedule, make_training_sensor
from ser_pipeline.defs.jobs import train_and_evaluate
from ser_pipeline.defs.resources import CorporaResource

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def defs():
    from ser_pipeline.definitions import defs

    return defs


@pytest.fixture()
def instance(monkeypatch):
    monkeypatch.delenv("SER_TRAIN_RUN_CONFIG", raising=False)
    with dg.instance_for_test() as inst:
        yield inst


def split_version(instance, version: str) -> None:
    """A materialization of ``splits`` with a data version, as the labels job leaves it."""
    instance.report_runless_asset_event(dg.AssetMaterialization("splits", tags={"dagster/data_version": version}))


class StandInModelConfig(dg.Config):
    epochs: int = 1
    model_file: str | None = None


class StandInSplitsConfig(dg.Config):
    seed: int = 0


def run_stand_in_pipeline(instance, run_config: dict, job_name: str = "full_pipeline", fail: bool = False):
    """A real run of a job named like ours that materializes ``emotion_model`` (a stand-in asset with
    the same key and a subset of its config), so the instance holds what a training run leaves."""

    @dg.asset(name="splits")
    def splits(config: StandInSplitsConfig) -> int:
        return config.seed

    @dg.asset(name="emotion_model", deps=[splits])
    def emotion_model(config: StandInModelConfig, corpora: CorporaResource) -> int:
        return config.epochs

    @dg.asset(name="report", deps=[emotion_model])
    def report() -> None:
        if fail:
            raise RuntimeError("evaluation failed")

    job = dg.define_asset_job(job_name)
    stand_in = dg.Definitions(assets=[splits, emotion_model, report], jobs=[job],
                              resources={"corpora": CorporaResource()})
    return stand_in.resolve_job_def(job_name).execute_in_process(run_config=run_config, instance=instance,
                                                                 raise_on_error=False)


FULL_CONFIG = {"ops": {"splits": {"config": {"seed": 3}}, "emotion_model": {"config": {"epochs": 7}}},
               "resources": {"corpora": {"config": {"root": "/somewhere/corpora"}}}}


def tick(sensor, instance, defs, cursor=None):
    return sensor.evaluate_tick(dg.build_sensor_context(instance=instance, definitions=defs, cursor=cursor))


def test_training_sensor_and_schedule_are_off_by_default(monkeypatch):
    monkeypatch.delenv("SER_TRAIN_SENSOR", raising=False)
    monkeypatch.delenv("SER_TRAIN_SCHEDULE", raising=False)
    assert make_training_sensor(train_and_evaluate).default_status == dg.DefaultSensorStatus.STOPPED
    assert make_training_schedule(train_and_evaluate).default_status == dg.DefaultScheduleStatus.STOPPED
    monkeypatch.setenv("SER_TRAIN_SENSOR", "on")
    monkeypatch.setenv("SER_TRAIN_SCHEDULE", "on")
    assert make_training_sensor(train_and_evaluate).default_status == dg.DefaultSensorStatus.RUNNING
    assert make_training_schedule(train_and_evaluate).default_status == dg.DefaultScheduleStatus.RUNNING
    monkeypatch.setenv("SER_TRAIN_SENSOR", "maybe")
    with pytest.raises(ValueError, match="SER_TRAIN_SENSOR='maybe' must be on or off"):
        make_training_sensor(train_and_evaluate)


def test_shipped_definitions_leave_training_stopped_and_observation_running(monkeypatch):
    monkeypatch.delenv("SER_TRAIN_SENSOR", raising=False)
    monkeypatch.delenv("SER_TRAIN_SCHEDULE", raising=False)
    from ser_pipeline.definitions import defs

    repo = defs.get_repository_def()
    assert repo.get_sensor_def("new_training_data").default_status == dg.DefaultSensorStatus.STOPPED
    assert repo.get_schedule_def("weekly_training").default_status == dg.DefaultScheduleStatus.STOPPED
    assert repo.get_sensor_def("data_automation").default_status == dg.DefaultSensorStatus.RUNNING


def test_without_a_chosen_config_the_sensor_and_schedule_skip_and_say_how(instance, defs):
    split_version(instance, "v1")
    result = tick(make_training_sensor(train_and_evaluate), instance, defs)
    assert not result.run_requests and "SER_TRAIN_RUN_CONFIG" in result.skip_message
    assert result.cursor is None  # the split version still trains once a config is chosen
    schedule = make_training_schedule(train_and_evaluate)
    res = schedule.evaluate_tick(dg.build_schedule_context(instance=instance, repository_def=defs.get_repository_def()))
    assert not res.run_requests and "SER_TRAIN_RUN_CONFIG" in res.skip_message


def test_a_run_config_file_named_in_settings_is_used(instance, defs, monkeypatch):
    demo = REPO / "configs" / "demo.yaml"
    monkeypatch.setenv("SER_TRAIN_RUN_CONFIG", str(demo))
    split_version(instance, "v1")
    result = tick(make_training_sensor(train_and_evaluate), instance, defs)
    (request,) = result.run_requests
    expected = yaml.safe_load(demo.read_text())
    assert request.run_config["ops"]["emotion_model"] == expected["ops"]["emotion_model"]
    assert request.run_config["resources"] == expected["resources"]
    assert request.tags["ser/run_config_source"] == f"file {demo}"
    assert result.cursor == "v1"
    schedule = make_training_schedule(train_and_evaluate)
    res = schedule.evaluate_tick(dg.build_schedule_context(instance=instance, repository_def=defs.get_repository_def()))
    assert res.run_requests[0].run_config == request.run_config

    monkeypatch.setenv("SER_TRAIN_RUN_CONFIG", str(demo.with_name("nope.yaml")))
    result = tick(make_training_sensor(train_and_evaluate), instance, defs)
    assert not result.run_requests and "nope.yaml: cannot read it" in result.skip_message


def test_a_config_file_that_does_not_fit_the_job_is_a_skip_naming_the_key(instance, defs, monkeypatch, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"ops": {"emotion_model": {"config": {"epocs": 2}}}}))
    monkeypatch.setenv("SER_TRAIN_RUN_CONFIG", str(bad))
    split_version(instance, "v1")
    result = tick(make_training_sensor(train_and_evaluate), instance, defs)
    assert not result.run_requests and "epocs" in result.skip_message and "bad.yaml" in result.skip_message


def test_the_last_successful_training_runs_config_is_reused_trimmed_to_the_job(instance, defs):
    assert run_stand_in_pipeline(instance, FULL_CONFIG).success
    # later runs that must not count: a failed run, and one that adopted a model file
    later = {"ops": {**FULL_CONFIG["ops"], "emotion_model": {"config": {"epochs": 99}}}}
    assert not run_stand_in_pipeline(instance, later, fail=True).success
    adopted = {"ops": {"emotion_model": {"config": {"model_file": "/x/model.pt"}}}}
    assert run_stand_in_pipeline(instance, adopted, job_name="train_and_evaluate").success
    split_version(instance, "v2")
    (request,) = tick(make_training_sensor(train_and_evaluate), instance, defs).run_requests
    # the splits op is not part of train_and_evaluate: dropped; the model config and resources kept
    assert request.run_config == {"ops": {"emotion_model": {"config": {"epochs": 7}}},
                                  "resources": {"corpora": {"config": {"root": "/somewhere/corpora"}}}}
    assert request.tags["ser/run_config_source"].startswith("run ")


def test_config_for_job_keeps_only_what_the_job_accepts(defs):
    job = defs.resolve_job_def("train_and_evaluate")
    trimmed = config_for_job({**FULL_CONFIG, "loggers": {"console": {"config": {"log_level": "INFO"}}},
                              "ops": {**FULL_CONFIG["ops"], "evaluation__emodb": {"config": {"tau": 0.5}}}}, job)
    assert set(trimmed["ops"]) == {"emotion_model", "evaluation__emodb"} and "loggers" in trimmed
    dg.validate_run_config(job, trimmed)
