"""The pipeline with the audio cache: same training and evaluation as from the original files,
and it really reads the cache (the second run has no original audio to fall back to)."""

import shutil
import sys
from pathlib import Path

import dagster as dg
import mlflow
import pytest

from ser_pipeline.definitions import ASSETS
from ser_pipeline.defs.corpora import CORPUS_NAMES
from ser_pipeline.defs.evaluation import EVAL_SETS
from ser_pipeline.synth import synth_corpus

sys.path.insert(0, str(Path(__file__).parent))
from pipeline_helpers import TINY_TRAIN, pipeline_resources  # noqa: E402


pytestmark = pytest.mark.e2e  # two whole-graph materializations: not in `make test-fast`

MODEL_AND_EVALUATION = ["emotion_model", *(f"evaluation/{s}" for s in EVAL_SETS), "temporal_evaluation"]


def run_config(use_cache: bool) -> dict:
    # in_process: the Pipes launcher is covered by test_pipeline; its subprocess would add ~12 s of imports
    ops = {"emotion_model": {"config": {**TINY_TRAIN, "use_audio_cache": use_cache, "register_model": False,
                                        "log_every": 1, "launcher": "in_process"}},
           "temporal_evaluation": {"config": {"use_audio_cache": use_cache}},
           **{f"evaluation__{s}": {"config": {"use_audio_cache": use_cache}} for s in EVAL_SETS}}
    if not use_cache:  # the first run also builds the cache, bit-exact (float32)
        ops.update({f"audio_cache__{n}": {"config": {"dtype": "float32"}} for n in CORPUS_NAMES})
    return {"ops": ops}


def test_training_and_evaluation_from_the_cache_equal_those_from_the_files(tmp_path, mlflow_uri):
    corpora = tmp_path / "corpora"
    for name in ("ravdess", "crema_d", "emodb"):
        synth_corpus(name, corpora / name, speakers=2, per_class=1)
    uri = mlflow_uri
    resources = pipeline_resources(corpora, tmp_path, uri)
    with dg.instance_for_test() as instance:
        files = dg.materialize(ASSETS, resources=resources, instance=instance, run_config=run_config(False))
        assert files.success
        # No original audio from here on: the second run can only read the cache.
        shutil.move(corpora, tmp_path / "gone")
        selection = dg.AssetSelection.assets(*(dg.AssetKey.from_user_string(k) for k in MODEL_AND_EVALUATION))
        cached = dg.materialize(ASSETS, selection=selection, resources=resources, instance=instance,
                                run_config=run_config(True))
        assert cached.success

        def outputs(result):
            return {k: result.asset_value(dg.AssetKey.from_user_string(k)) for k in MODEL_AND_EVALUATION[1:]}

        a, b = outputs(files), outputs(cached)
    assert a["evaluation/emodb"]["n"] > 0 and a["evaluation/validation"]["n"] > 0
    assert a == b  # every metric of every set, trained and random head, packed context, temporal
    client = mlflow.MlflowClient(tracking_uri=uri)
    runs = {r.info.run_id: r for r in client.search_runs([client.get_experiment_by_name("ser_pipeline").experiment_id])}
    assert len(runs) == 2

    def losses(run_id):
        return [(m.step, m.value) for m in sorted(client.get_metric_history(run_id, "train/loss"), key=lambda m: m.step)]

    first, second = (losses(r) for r in runs)
    assert len(first) >= 2 and first == second  # the same batches, step by step
    metrics = [r.data.metrics for r in runs.values()]
    assert {k: v for k, v in metrics[0].items() if k.startswith(("eval/", "temporal/"))} == \
        {k: v for k, v in metrics[1].items() if k.startswith(("eval/", "temporal/"))}

