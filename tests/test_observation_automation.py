"""Observed hourly, for real (issue 15.3): the shipped automation sensor targets the raw/* observable
sources, so their cron condition requests observations without a click, and a touched corpus
folder leads to its table being requested."""

import datetime
import os
import time

import dagster as dg

from ser_pipeline.defs.automation import make_automation_sensor, make_raw_corpus_asset, raw_key
from ser_pipeline.defs.corpora import make_corpus_asset
from ser_pipeline.defs.io import ParquetIOManager
from ser_pipeline.defs.jobs import observe_corpora
from ser_pipeline.defs.resources import CorporaResource, DataDirResource
from ser_pipeline.synth import synth_corpus


def test_a_touched_corpus_folder_is_observed_and_its_table_requested_without_a_click(tmp_path, monkeypatch):
    monkeypatch.delenv("SER_OBSERVE_CRON", raising=False)  # hourly
    root = synth_corpus("ravdess", tmp_path / "corpora" / "ravdess", speakers=1, per_class=1).parent
    data_dir = DataDirResource(path=str(tmp_path / "d"))
    resources = {"corpora": CorporaResource(root=str(root)), "data_dir": data_dir,
                 "io_manager": ParquetIOManager(data_dir=data_dir)}
    source, corpus = make_raw_corpus_asset("ravdess"), make_corpus_asset("ravdess")
    defs = dg.Definitions(assets=[source, corpus], jobs=[observe_corpora], resources=resources)
    # what the shipped `data_automation` sensor evaluates, and that it runs without being switched on
    sensor = make_automation_sensor()
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    selection = sensor.asset_selection
    raw, table = raw_key("ravdess"), corpus.key
    t = datetime.datetime(2026, 1, 5, 10, 30, tzinfo=datetime.UTC)

    def tick(at, cursor):
        return dg.evaluate_automation_conditions(defs=defs, instance=instance, asset_selection=selection,
                                                 evaluation_time=at, cursor=cursor)

    def observe():  # what the requested observation run does
        assert defs.resolve_job_def("observe_corpora").execute_in_process(instance=instance).success

    with dg.instance_for_test() as instance:
        r = tick(t, None)
        r = tick(t + datetime.timedelta(hours=1), r.cursor)  # the hourly cron tick passed
        assert r.get_num_requested(raw) == 1
        observe()
        r = tick(t + datetime.timedelta(hours=1, minutes=1), r.cursor)
        assert r.get_num_requested(table) == 1 and r.get_num_requested(raw) == 0
        assert dg.materialize([source, corpus], instance=instance, resources=resources,
                              selection=[table]).success
        r = tick(t + datetime.timedelta(hours=1, minutes=2), r.cursor)
        assert r.get_num_requested(table) == 0

        wav = next(root.joinpath("ravdess").rglob("*.wav"))
        os.utime(wav, ns=(time.time_ns(), time.time_ns() + 10**9))  # someone touched the folder
        r = tick(t + datetime.timedelta(hours=2), r.cursor)  # next hourly tick: observe again
        assert r.get_num_requested(raw) == 1
        observe()
        r = tick(t + datetime.timedelta(hours=2, minutes=1), r.cursor)
        assert r.get_num_requested(table) == 1
