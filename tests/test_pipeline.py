"""The whole graph with real Dagster, a real sqlite MLflow store and generated corpora on disk.

`dagster job execute` on the shipped configs is exercised by tests/test_killed_run.py
(configs/demo.yaml, in-process executor) and tests/test_s3_multiprocess.py (multiprocess executor,
forkserver).
"""

import json
import subprocess
import sys
from pathlib import Path

import dagster as dg
import mlflow
import pandas as pd
import pytest

from ser_pipeline.definitions import ASSETS, defs
from ser_pipeline.defs.checks import CHECKS
from ser_pipeline.emotions import CLASSES
from ser_pipeline.labels.splits import training_meta
from ser_pipeline.synth import synth_corpus

sys.path.insert(0, str(Path(__file__).parent))
from pipeline_helpers import TINY_TRAIN, pipeline_resources  # noqa: E402


@pytest.fixture(scope="module")
def tiny_corpora(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpora")
    for name in ("ravdess", "crema_d", "emodb"):
        synth_corpus(name, root / name, speakers=2, per_class=1)
    return root


def test_definitions_load_and_jobs_resolve():
    dg.Definitions.validate_loadable(defs)
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    selected = {job: {k.to_user_string() for k in defs.resolve_job_def(job).asset_layer.executable_asset_keys}
                for job in ("prepare_data", "train_and_evaluate", "full_pipeline")}
    assert {"corpora/ravdess", "splits"} <= selected["prepare_data"] and "emotion_model" not in selected["prepare_data"]
    assert {"emotion_model", "evaluation/emodb"} <= selected["train_and_evaluate"]
    assert not {"splits", "corpora/ravdess"} & selected["train_and_evaluate"]
    assert selected["prepare_data"] | selected["train_and_evaluate"] <= selected["full_pipeline"]
    assert {"corpora/ravdess", "corpora/crema_d", "corpora/emodb", "corpora/manifest", "label_intensity",
            "smoothed_labels", "splits", "emotion_model", "evaluation/validation", "evaluation/emodb"} <= keys


@pytest.mark.e2e
def test_materialize_whole_graph_logs_metrics_to_mlflow(tiny_corpora, tmp_path, mlflow_uri):
    uri = mlflow_uri
    resources = pipeline_resources(tiny_corpora, tmp_path, uri)
    with dg.instance_for_test() as instance:
        result = dg.materialize([*ASSETS, *CHECKS], resources=resources, instance=instance,
                                run_config={"ops": {"emotion_model": {"config": TINY_TRAIN}}})
        assert result.success
        evals = result.get_asset_check_evaluations()
        failed = [(e.asset_key.to_user_string(), e.check_name) for e in evals
                  if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR]
        assert not failed, failed
        warned = {(e.asset_key.to_user_string(), e.check_name) for e in evals if not e.passed}
        assert ("corpora/crema_d", "reject_share") in warned  # its silent clip is 1 of 13 files
        # absent corpora are not materialized (a WARN corpus_present says so), present ones carry counts
        assert ("corpora/manifest", "corpus_present") in warned
        assert ("corpora/ravdess", "corpus_present") not in warned
        mats = {e.asset_key.to_user_string(): e.materialization.metadata
                for e in result.get_asset_materialization_events()}
        assert mats["corpora/ravdess"]["status"].value == "read"
        assert mats["corpora/ravdess"]["dagster/row_count"].value == 2 * (15 + 11)
        assert "corpora/manifest" not in mats and "audio_cache/manifest" not in mats
        assert "mlflow_run_id" in mats["emotion_model"]
        report = mats["evaluation_report"]  # images inline in the UI, not paths
        assert report["heatmap"].md_str.startswith("![Table 2 heatmap](data:image/png;base64,")
        assert report["confusion_emodb"].md_str.startswith("![confusion matrix, emodb](data:image/png;base64,")
        run_id = mats["emotion_model"]["mlflow_run_id"].value
    run = mlflow.MlflowClient(tracking_uri=uri).get_run(run_id)
    m = run.data.metrics
    for s in ("validation", "emodb"):
        assert 0.0 <= m[f"eval/{s}/micro_f1"] <= 1.0
        assert f"eval/{s}/random_head/micro_f1" in m
        assert f"eval/{s}/packed/micro_f1" in m and f"eval/{s}/uar" in m and f"eval/{s}/raw/macro_f1" in m
    assert "eval/emodb/f1_anger" in m and "eval/emodb/f1_surprise" not in m  # banned: absent from EmoDB
    assert "eval/iemocap_s4/micro_f1" not in m  # corpus absent
    assert run.data.tags["dagster_run_id"] == result.run_id
    assert run.info.status == "FINISHED"
    client = mlflow.MlflowClient(tracking_uri=uri)
    arts = {a.path for a in client.list_artifacts(run_id, "model")}
    assert {"model/model.safetensors", "model/ser_model.json", "model/whisper_config.json"} <= arts
    report = {a.path for a in client.list_artifacts(run_id, "report")}
    assert {"report/table2.csv", "report/table2.md", "report/table2.png", "report/confusion_emodb.png",
            "report/MODEL_CARD.md"} <= report
    card = Path(client.download_artifacts(run_id, "report/MODEL_CARD.md")).read_text()
    assert "| 0 | happiness |" in card and "| ravdess |" in card and "Micro F1" in card
    assert "temporal/frame_accuracy" in m and "temporal/random_head/cp_f1" in m
    assert any(k.startswith("train/loss") for k in client.get_run(run_id).data.metrics)  # streamed over Pipes
    assert 0.0 <= m["temporal/frame_accuracy"] <= 1.0
    # the registered pyfunc model predicts what `ser predict` prints for the same file
    wav = next((tiny_corpora / "emodb" / "wav").glob("*.wav"))
    mlflow.set_tracking_uri(uri)
    (version,) = [v.version for v in client.search_model_versions("name='ser_emotion_model'")]
    registered = client.get_model_version("ser_emotion_model", version)  # the first version: champion
    assert registered.aliases == ["champion"] and "ser.metric.validation/micro_f1" in registered.tags
    assert "ravdess" in registered.tags["training_corpora"].split(",") and registered.tags["synthetic_speech"]
    assert "**Synthetic speech.**" in card and "Trained on " in card
    pyfunc = mlflow.pyfunc.load_model(f"models:/ser_emotion_model/{version}")
    out = pyfunc.predict(pd.DataFrame({"path": [str(wav)]}))
    export = json.loads((tmp_path / "data" / "assets" / "emotion_model.json").read_text())["export_dir"]
    ser = Path(sys.executable).with_name("ser")
    proc = subprocess.run([str(ser), "predict", str(wav), "--model", export, "--json", "--out",
                           str(tmp_path / "t.csv"), "--plot", str(tmp_path / "t.png")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    cli = json.loads(proc.stdout.strip().splitlines()[-1])
    assert cli["top"] == out["top"][0]
    for c, p in cli["clip_probs"].items():
        assert p == pytest.approx(out[c][0], abs=1e-5)
    timeline = pd.read_csv(tmp_path / "t.csv")
    assert list(timeline.columns[1:9]) == list(CLASSES) and (tmp_path / "t.png").stat().st_size > 1000
    splits = pd.read_parquet(tmp_path / "data" / "assets" / "splits.parquet")
    assert set(splits.loc[splits.corpus == "emodb", "split"]) == {"zero_shot"}
    assert not (tmp_path / "data" / "assets" / "splits_meta.json").exists()  # derived from the table instead
    assert mats["splits"]["n_domains"].value == len(training_meta(splits).domain_vocab)
