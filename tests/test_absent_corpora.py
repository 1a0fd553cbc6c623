"""An absent corpus never wipes a stored table or cache, is shown as absent in the catalog, and
is summed up in one log line; the label assets run with the corpora that are present (issue 15.2, 15.5)."""

import sys
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from ser_pipeline.defs.cache import CACHE_ASSETS
from ser_pipeline.defs.corpora import CORPUS_ASSETS, LABEL_CORPORA, PRESENT_CHECK
from ser_pipeline.defs.labels import label_intensity, smoothed_labels, splits
from ser_pipeline.synth import synth_corpus

sys.path.insert(0, str(Path(__file__).parent))
from pipeline_helpers import pipeline_resources  # noqa: E402

# two corpora that come and go, and one (crema_d) never present; the other corpora are not in
# the run, so their (never stored) tables read as empty, as an absent one's do
CORPORA = [a for a in CORPUS_ASSETS if a.key.path[-1] in ("ravdess", "emodb", "crema_d")]
ASSETS = [*CORPORA, label_intensity, smoothed_labels, splits]
EMODB = dg.AssetKey(["corpora", "emodb"])


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    full = tmp_path_factory.mktemp("full")
    for name in ("ravdess", "emodb"):
        synth_corpus(name, full / name, speakers=2, per_class=1)
    partial = tmp_path_factory.mktemp("partial")  # emodb moved away
    synth_corpus("ravdess", partial / "ravdess", speakers=2, per_class=1)
    return {"full": full, "partial": partial, "empty": tmp_path_factory.mktemp("empty")}


def _materialize(instance, root, tmp_path, assets=ASSETS, **kwargs):
    return dg.materialize(assets, instance=instance, **kwargs,
                          resources=pipeline_resources(root, tmp_path, f"sqlite:///{tmp_path}/mlflow.db"))


def _latest_run(instance, key: dg.AssetKey) -> str:
    return instance.get_latest_materialization_event(key).run_id


def test_an_absent_corpus_keeps_its_table_and_the_labels_run_with_the_present_ones(roots, tmp_path):
    table = tmp_path / "data" / "assets" / "corpora" / "emodb.parquet"
    with dg.instance_for_test() as instance:
        first = _materialize(instance, roots["full"], tmp_path)
        rows = len(pd.read_parquet(table))
        assert first.success and rows > 0
        for root in ("partial", "empty"):  # emodb moved away, then a wrong SER_CORPORA_ROOT
            again = _materialize(instance, roots[root], tmp_path, raise_on_error=False)
            assert len(pd.read_parquet(table)) == rows  # not wiped
            assert _latest_run(instance, EMODB) == first.run_id  # no new materialization
            if root == "empty":  # not one corpus present: every corpus step fails fast, naming the root
                assert not again.success
                failures = [e for e in again.all_events if e.event_type_value == "STEP_FAILURE"]
                assert failures and all(f"no corpus found under {roots['empty']}"
                                        in e.step_failure_data.error.message for e in failures)
                continue
            assert again.success
            absent = {e.asset_key.to_user_string(): e for e in again.get_asset_check_evaluations()
                      if e.check_name == PRESENT_CHECK}
            assert not absent["corpora/emodb"].passed
            assert absent["corpora/emodb"].severity == dg.AssetCheckSeverity.WARN
            assert "absent under" in absent["corpora/emodb"].description
        second_labels = instance.get_latest_materialization_event(dg.AssetKey("splits"))
    # the partial run re-made the labels from ravdess (read again) and emodb's stored table;
    # the empty-root run stopped before them
    assert second_labels.run_id != first.run_id
    splits_table = pd.read_parquet(tmp_path / "data" / "assets" / "splits.parquet")
    assert set(splits_table.corpus) == {"ravdess", "emodb"}


def test_absent_corpora_are_one_info_line_and_metadata(roots, tmp_path):
    with dg.instance_for_test() as instance:
        result = _materialize(instance, roots["partial"], tmp_path)
        records = instance.all_logs(result.run_id)
    absent = sorted(set(LABEL_CORPORA) - {"ravdess"})
    lines = [r for r in records if r.user_message.startswith("absent corpora")]
    assert len(lines) == 1 and lines[0].level == 20  # INFO
    assert lines[0].user_message.startswith(f"absent corpora ({len(absent)}): {', '.join(absent)} — set SER_CORPORA_ROOT")
    assert not [r for r in records if r.level >= 30 and "not found" in r.user_message.lower()]
    mats = {e.asset_key.to_user_string(): e.materialization.metadata
            for e in result.get_asset_materialization_events()}
    assert mats["label_intensity"]["absent_corpora"].value == absent
    assert "corpora/emodb" not in mats and "corpora/crema_d" not in mats  # absent: not materialized
    assert "corpora/ravdess" in mats


@pytest.mark.e2e
def test_an_absent_corpus_keeps_its_audio_cache(roots, tmp_path):
    emodb_cache = dg.AssetKey(["audio_cache", "emodb"])
    cache_assets = [a for a in CACHE_ASSETS if {k.path[-1] for k in a.keys} & {"emodb", "ravdess", "audio_caches"}]
    assets = [*CORPORA, *cache_assets]
    with dg.instance_for_test() as instance:
        first = _materialize(instance, roots["full"], tmp_path, assets)
        assert first.success and _latest_run(instance, emodb_cache) == first.run_id
        files = sorted(p.name for p in (tmp_path / "data" / "audio_cache" / "emodb").rglob("*"))
        again = _materialize(instance, roots["partial"], tmp_path, assets)  # emodb moved away
        assert again.success
        assert _latest_run(instance, emodb_cache) == first.run_id  # not replaced by an empty cache
        assert sorted(p.name for p in (tmp_path / "data" / "audio_cache" / "emodb").rglob("*")) == files
        # the fan-in that training waits on still ran: emodb's skipped cache does not skip training
        assert _latest_run(instance, dg.AssetKey("audio_caches")) == again.run_id
