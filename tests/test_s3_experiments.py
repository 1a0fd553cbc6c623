"""The studies (ablation, leave one corpus out, few-shot) with the data folder on object storage
(issue 18): their run records, run folders (checkpoints, export) and reports are written to the
bucket, a record read back from the bucket makes an unchanged partition re-use its run, and
MLflow's parent run gets the report. A local moto server (tests/s3_server.py) stands in for S3."""

import io
import sys
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from ser_pipeline.definitions import ASSETS
from ser_pipeline.defs.experiments import (EXPERIMENT_ASSETS, ablation_report, ablation_run, few_shot_curves,
                                           few_shot_run, loco_matrix, loco_run)
from ser_pipeline.defs.io import ParquetIOManager
from ser_pipeline.defs.resources import CorporaResource, DataDirResource, MlflowResource
from ser_pipeline.synth import synth_corpus

sys.path.insert(0, str(Path(__file__).parent))
from pipeline_helpers import TINY_TRAIN  # noqa: E402
from s3_server import url_folders  # noqa: E402

STUDY_TRAIN = {**TINY_TRAIN, "epochs": 1, "study": "demo"}


@pytest.mark.e2e
def test_studies_keep_records_runs_and_reports_in_the_bucket(s3, tmp_path, monkeypatch, mlflow_uri):
    from mlflow.tracking import MlflowClient

    root = tmp_path / "corpora"
    for name in ("ravdess", "crema_d", "emodb"):
        synth_corpus(name, root / name, speakers=2, per_class=1)
    bucket = s3.new_bucket()
    data = f"s3://{bucket}/data"
    scratch = tmp_path / "scratch"
    monkeypatch.setenv("SER_SCRATCH_DIR", str(scratch))
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    data_dir = DataDirResource(path=data)
    uri = mlflow_uri
    resources = {"io_manager": ParquetIOManager(data_dir=data_dir), "data_dir": data_dir,
                 "corpora": CorporaResource(root=str(root)),
                 "mlflow": MlflowResource(data_dir=data_dir, tracking_uri=uri),
                 "pipes_subprocess_client": dg.PipesSubprocessClient()}
    fs = s3.fs()

    def keys(prefix: str) -> set[str]:
        fs.invalidate_cache()
        return {k.removeprefix(f"{bucket}/data/") for k in fs.find(f"{bucket}/data/{prefix}")}

    def run(selection, partition_key=None, **ops):
        result = dg.materialize([*ASSETS, *EXPERIMENT_ASSETS], selection=selection, partition_key=partition_key,
                                resources=resources, instance=instance,
                                run_config={"ops": {k: {"config": v} for k, v in ops.items()}})
        assert result.success
        return result

    def metadata(result, key):
        return next(e for e in result.get_asset_materialization_events()
                    if e.asset_key.to_user_string() == key).materialization.metadata

    with dg.instance_for_test() as instance:
        run(dg.AssetSelection.groups("corpora", "labels"), splits={"validation_fraction": 0.3})

        for key in ("0|base", "0|augment-off"):
            run([ablation_run], key, ablation_run=STUDY_TRAIN)
        assert {"experiments/ablation/demo/base__s0.json", "experiments/ablation/demo/augment-off__s0.json"} <= \
            keys("experiments/ablation")
        assert "models/experiments/ablation/demo/base__s0/export/model.safetensors" in keys("models/experiments")
        again = run([ablation_run], "0|base", ablation_run=STUDY_TRAIN)  # its record, read from the bucket
        assert metadata(again, "ablation_run")["reused"].value is True
        report = run([ablation_report], ablation_report={"study": "demo", "factors": ["augment"], "n_seeds": 1})
        csv = metadata(report, "ablation_report")["csv"].value
        assert csv == f"{data}/reports/experiments/ablation/demo/ablation.csv"
        assert keys("reports/experiments/ablation/demo") == {
            f"reports/experiments/ablation/demo/ablation.{ext}" for ext in ("csv", "md", "png")}
        table = pd.read_csv(io.BytesIO(fs.cat_file(csv.removeprefix("s3://"))))
        assert list(table["variant"]) == ["base", "augment-off"]
        parent = metadata(report, "ablation_report")["mlflow_parent_run_id"].value
        assert {a.path for a in MlflowClient(uri).list_artifacts(parent, "ablation")} >= {
            "ablation/ablation.csv", "ablation/ablation.md", "ablation/ablation.png"}

        run([loco_run], "none", loco_run=STUDY_TRAIN)
        matrix = run([loco_matrix], loco_matrix={"study": "demo"})
        assert list(pd.read_csv(io.BytesIO(fs.cat_file(
            metadata(matrix, "loco_matrix")["csv"].value.removeprefix("s3://"))))["held_out"]) == ["none"]

        model = run(["emotion_model"], emotion_model={**TINY_TRAIN, "epochs": 1, "launcher": "in_process",
                                                      "register_model": False})
        assert model.output_for_node("emotion_model")["export_dir"].startswith(f"{data}/models/")
        run([few_shot_run], "0|emodb", few_shot_run=STUDY_TRAIN)
        curves = run([few_shot_curves], few_shot_curves={"study": "demo"})
        assert "reports/experiments/few_shot/demo/few_shot.md" in keys("reports/experiments/few_shot")
        assert metadata(curves, "few_shot_curves")["n_runs"].value == 1

    # nothing of the studies on local disk: not in the working directory, no ./s3:/ folder, and the
    # staged reports removed once uploaded
    assert not any(cwd.iterdir()) and not url_folders(tmp_path)
    assert not list((scratch / "ser-staging").glob("*-demo-*"))
