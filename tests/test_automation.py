"""Declarative automation, observation fingerprints, the training sensor — with Dagster's own testing APIs."""

import dataclasses
from pathlib import Path

import dagster as dg
import pytest

import ser_pipeline.corpora.ravdess as ravdess_module
from ser_pipeline.definitions import RAW_ASSETS
from ser_pipeline.defs.automation import make_training_sensor, raw_key
from ser_pipeline.defs.corpora import CORPUS_ASSETS, make_corpus_asset
from ser_pipeline.defs.io import ParquetIOManager
from ser_pipeline.defs.jobs import observe_corpora, train_and_evaluate
from ser_pipeline.defs.labels import label_intensity, smoothed_labels, splits
from ser_pipeline.defs.resources import CorporaResource, DataDirResource, MlflowResource
from ser_pipeline.synth import synth_corpus

pytestmark = pytest.mark.e2e  # real materializations and jobs: not in `make test-fast`

DATA_ASSETS = [*CORPUS_ASSETS, label_intensity, smoothed_labels, splits]
LABEL_KEYS = {"label_intensity", "smoothed_labels", "splits"}


@pytest.fixture()
def setup(tmp_path):
    root = tmp_path / "corpora"
    synth_corpus("ravdess", root / "ravdess", speakers=1, per_class=1)
    synth_corpus("emodb", root / "emodb", speakers=1, per_class=1)
    yield from _setup(tmp_path, root)


def _setup(tmp_path, root):
    data_dir = DataDirResource(path=str(tmp_path / "d"))
    resources = {"corpora": CorporaResource(root=str(root)), "data_dir": data_dir,
                 "io_manager": ParquetIOManager(data_dir=data_dir),
                 "mlflow": MlflowResource(data_dir=data_dir, tracking_uri=f"sqlite:///{tmp_path}/m.db")}
    with dg.instance_for_test() as instance:
        yield root, resources, instance


def observe_all(instance, resources):
    """Run the real `observe_corpora` job in process."""
    defs = dg.Definitions(assets=RAW_ASSETS, jobs=[observe_corpora], resources=resources)
    assert defs.resolve_job_def("observe_corpora").execute_in_process(instance=instance).success


def requested(result, assets) -> set[str]:
    return {k.to_user_string() for a in assets for k in a.keys if result.get_num_requested(k)}


@pytest.fixture()
def setup_in_bucket(tmp_path, s3):
    """``setup`` with the corpora in a bucket of the local S3 server."""
    local = tmp_path / "local"
    synth_corpus("ravdess", local / "ravdess", speakers=1, per_class=1)
    synth_corpus("emodb", local / "emodb", speakers=1, per_class=1)
    url = f"s3://{s3.new_bucket()}/corpora"
    s3.upload(local, url)
    from upath import UPath

    yield from _setup(tmp_path, UPath(url))


def _edit_one_wav(root) -> None:
    """Change one sample of one RAVDESS file, keeping its size: a folder's mtime and an object's
    ETag both move."""
    wav = sorted((root / "ravdess").rglob("*.wav"), key=lambda p: p.parts)[0]
    data = bytearray(wav.read_bytes())
    data[-2:] = b"\x01\x02" if data[-2:] != b"\x01\x02" else b"\x03\x04"
    wav.write_bytes(bytes(data))


def test_changed_corpus_rematerializes_exactly_its_tables(setup):
    root, resources, instance = setup
    _check_changed_corpus_rematerializes_exactly_its_tables(root, resources, instance)


def test_changed_object_in_a_bucket_rematerializes_exactly_its_tables(setup_in_bucket):
    """The same story with the corpora in a bucket: fingerprints from the listing (size + ETag),
    and re-observing an unchanged bucket fetches no object."""
    from s3_server import RequestCounter

    root, resources, instance = setup_in_bucket
    counter = RequestCounter().install()
    _check_changed_corpus_rematerializes_exactly_its_tables(root, resources, instance, counter)


def _check_changed_corpus_rematerializes_exactly_its_tables(root, resources, instance, counter=None):
    defs = dg.Definitions(assets=[*RAW_ASSETS, *DATA_ASSETS], resources=resources)
    r = dg.evaluate_automation_conditions(defs=defs, instance=instance)  # the sensor's first tick
    assert requested(r, DATA_ASSETS) == set()
    observe_all(instance, resources)
    r = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=r.cursor)
    first = requested(r, DATA_ASSETS)
    assert {"corpora/ravdess", "corpora/emodb", "corpora/crema_d"} <= first  # every observed folder
    assert dg.materialize([*RAW_ASSETS, *DATA_ASSETS], instance=instance, resources=resources,
                          selection=[k for a in DATA_ASSETS for k in a.keys]).success
    r = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=r.cursor)
    assert requested(r, DATA_ASSETS) == set()

    if counter is not None:
        counter.reset()
    observe_all(instance, resources)  # nothing changed on disk
    r = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=r.cursor)
    assert requested(r, DATA_ASSETS) == set()
    if counter is not None:  # listings only: no object fetched to re-observe an unchanged bucket
        assert counter.counts["GetObject"] == 0 and counter.counts["ListObjectsV2"] > 0

    def version(name):
        return instance.get_latest_data_version_record(raw_key(name)).asset_observation.data_version

    before = {n: version(n) for n in ("ravdess", "emodb")}
    _edit_one_wav(root)
    observe_all(instance, resources)
    assert version("ravdess") != before["ravdess"] and version("emodb") == before["emodb"]
    r = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=r.cursor)
    assert requested(r, DATA_ASSETS) == {"corpora/ravdess"} | LABEL_KEYS


def test_label_map_code_version_bump_requests_the_corpus(setup, monkeypatch):
    _root, resources, instance = setup
    observe_all(instance, resources)
    assert dg.materialize([*RAW_ASSETS, *DATA_ASSETS], instance=instance, resources=resources,
                          selection=[k for a in DATA_ASSETS for k in a.keys]).success
    defs = dg.Definitions(assets=[*RAW_ASSETS, *DATA_ASSETS], resources=resources)
    r = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    r = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=r.cursor)
    assert requested(r, DATA_ASSETS) == set()
    # fixing a label map = a new code version of exactly that corpus
    monkeypatch.setattr(ravdess_module, "SPEC", dataclasses.replace(
        ravdess_module.SPEC, label_map={**ravdess_module.LABEL_MAP, "02": {"neutral": 0.5, "other": 0.5}}))
    bumped = [make_corpus_asset("ravdess") if a.key.to_user_string() == "corpora/ravdess" else a for a in DATA_ASSETS]
    r = dg.evaluate_automation_conditions(defs=dg.Definitions(assets=[*RAW_ASSETS, *bumped], resources=resources), instance=instance, cursor=r.cursor)
    assert requested(r, bumped) == {"corpora/ravdess"} | LABEL_KEYS


def test_training_sensor_fires_once_per_split_version(setup, monkeypatch):
    from ser_pipeline.definitions import defs

    root, resources, instance = setup
    monkeypatch.setenv("SER_TRAIN_RUN_CONFIG", str(Path(__file__).resolve().parents[1] / "configs" / "demo.yaml"))
    sensor = make_training_sensor(train_and_evaluate)
    ctx = dg.build_sensor_context(instance=instance, definitions=defs)
    assert isinstance(sensor(ctx), dg.SkipReason)
    sel = [k for a in DATA_ASSETS for k in a.keys]
    assert dg.materialize([*RAW_ASSETS, *DATA_ASSETS], instance=instance, resources=resources, selection=sel).success
    res = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, definitions=defs))
    assert len(res.run_requests) == 1
    cursor = res.cursor
    # re-materializing unchanged data keeps the training split's data version: no new run
    assert dg.materialize([*RAW_ASSETS, *DATA_ASSETS], instance=instance, resources=resources, selection=sel).success
    res2 = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, definitions=defs, cursor=cursor))
    assert not res2.run_requests
    # new data -> new version -> exactly one new run request
    synth_corpus("crema_d", root / "crema_d", speakers=1, per_class=1)
    assert dg.materialize([*RAW_ASSETS, *DATA_ASSETS], instance=instance, resources=resources, selection=sel).success
    res3 = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, definitions=defs, cursor=cursor))
    assert len(res3.run_requests) == 1 and res3.run_requests[0].run_key != res.run_requests[0].run_key
