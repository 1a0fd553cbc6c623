"""Every corpus of the paper at once: the full graph on a generated set of all corpora."""

import dagster as dg
import mlflow
import pytest

from ser_pipeline.corpora import REGISTRY, available, get_spec
from ser_pipeline.definitions import ASSETS
from ser_pipeline.defs.checks import CHECKS
from ser_pipeline.defs.io import ParquetIOManager
from ser_pipeline.defs.resources import CorporaResource, DataDirResource, MlflowResource
from ser_pipeline.synth import synth_corpus

TINY_TRAIN = {"epochs": 1, "batch_size": 8, "lr": 0.001, "window_s": 4.0,
              "model": {"d_model": 32, "encoder_layers": 1, "encoder_attention_heads": 2, "encoder_ffn_dim": 64}}


def test_every_registered_corpus_has_a_reader_and_a_generator():
    assert available() == list(REGISTRY)


@pytest.mark.e2e
@pytest.mark.timeout(1200)
def test_full_pipeline_on_every_corpus(tmp_path, mlflow_uri):
    root = tmp_path / "corpora"
    for name in REGISTRY:
        synth_corpus(name, root / name, speakers=2, per_class=1)
    uri = mlflow_uri
    data_dir = DataDirResource(path=str(tmp_path / "d"))
    resources = {"io_manager": ParquetIOManager(data_dir=data_dir),
                 "corpora": CorporaResource(root=str(root)), "data_dir": data_dir,
                 "mlflow": MlflowResource(data_dir=data_dir, tracking_uri=uri),
                 "pipes_subprocess_client": dg.PipesSubprocessClient()}
    # in_process: the Pipes launcher is covered by test_pipeline; its subprocess would add ~12 s of imports
    run_config = {"ops": {"emotion_model": {"config": {**TINY_TRAIN, "register_model": False, "launcher": "in_process"}},
                          "hume_prosody_model": {"config": {"epochs": 1}},
                          "temporal_evaluation": {"config": {"n_windows": 4}}}}
    with dg.instance_for_test() as instance:
        result = dg.materialize([*ASSETS, *CHECKS], resources=resources, instance=instance, run_config=run_config)
        assert result.success
        mats = {e.asset_key.to_user_string(): e.materialization.metadata
                for e in result.get_asset_materialization_events()}
    for name in REGISTRY:
        meta = mats[f"corpora/{name}"]
        assert meta["status"].value == "read", name
        assert meta["dagster/row_count"].value > 0, name
        assert "class_histogram" in meta and "rejects" in meta, name
    evals = result.get_asset_check_evaluations()
    blocking_failed = [(e.asset_key.to_user_string(), e.check_name) for e in evals
                       if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR]
    assert not blocking_failed
    leak = [e for e in evals if e.check_name == "no_held_out_leakage"]
    assert leak and leak[0].passed
    run_id = mats["emotion_model"]["mlflow_run_id"].value
    metrics = mlflow.MlflowClient(tracking_uri=uri).get_run(run_id).data.metrics
    for s in ("validation", "iemocap_s4", "emodb", "aesdd", "urdu", "masc"):
        assert f"eval/{s}/micro_f1" in metrics, s
    assert "hume/devel/pearson_mean" in mlflow.MlflowClient(tracking_uri=uri).get_run(
        mats["hume_prosody_model"]["mlflow_run_id"].value).data.metrics
    roles = {n: get_spec(n).role for n in REGISTRY}
    assert roles["emodb"] == roles["aesdd"] == roles["urdu"] == roles["masc"] == "zero_shot"
    assert roles["hume_prosody"] == "finetune"
