"""Hume-Prosody (paper §3.2, Table 3): ``hume_prosody_model`` fine-tunes ``emotion_model`` on the
9 continuous targets; ``evaluation/hume_prosody_devel`` reports Pearson r (per dimension and the
mean: the paper's 0.511 figure), Spearman ρ and micro F1 of the argmax, and writes predictions
for the unlabelled test rows to CSV."""

import dagster as dg
import numpy as np
import pandas as pd

from ser_pipeline import storage
from ser_pipeline.defs.cache import audio_cache
from ser_pipeline.defs.corpora import CORPUS_NAMES, corpus_key
from ser_pipeline.defs.resources import CorporaResource, DataDirResource, MlflowResource
from ser_pipeline.defs.train_config import to_train_config, train_config_class

GROUP = "hume_prosody"


class HumeFinetuneConfig(train_config_class("HumeFinetuneTrainConfig", epochs=5)):
    """Every ``TrainConfig`` field for the fine-tune, plus where clips are read from. The encoder and
    window are the emotion model's, or ``model.init_from``'s (a released checkpoint or an export
    folder) when set; the other ``model`` fields and ``window_s`` are not used."""

    use_audio_cache: bool = True  # read clips from audio_cache/<corpus> where it holds them


def _target_columns(table: pd.DataFrame) -> list[str]:
    from ser_pipeline.corpora.hume_prosody import TARGET_COLUMNS

    missing = [c for c in TARGET_COLUMNS if c not in table.columns]
    if missing:
        raise dg.Failure(f"hume_prosody table lacks target columns {missing}")
    return list(TARGET_COLUMNS)


def _labelled(table: pd.DataFrame, split: str) -> pd.DataFrame:
    has = table["has_targets"].fillna(False).astype(bool) if "has_targets" in table else True
    return table[(table["official_split"] == split) & has]


@dg.asset(group_name=GROUP, code_version="2", kinds={"pytorch", "mlflow"}, pool="gpu",
          ins={"emotion_model": dg.AssetIn(), "hume": dg.AssetIn(key=corpus_key("hume_prosody"))},
          op_tags={"dagster-k8s/config": {"container_config": {"resources": {"limits": {"nvidia.com/gpu": 1}}}}})
def hume_prosody_model(context: dg.AssetExecutionContext, config: HumeFinetuneConfig, emotion_model: dict,
                       hume: pd.DataFrame, corpora: CorporaResource, data_dir: DataDirResource,
                       mlflow: MlflowResource) -> dict:
    """The emotion model with its heads replaced by a 9-output head (sigmoid + MSE), fine-tuned on
    Hume-Prosody's train rows with the same packing and augmentation."""
    from ser_pipeline.evaluation.metrics import regression_metrics
    from ser_pipeline.training.finetune import finetune_regression

    if hume.empty:
        context.log.warning("hume_prosody: corpus absent — skipped")
        context.add_output_metadata({"status": "absent (skipped)"})
        return {"status": "absent"}
    cols = _target_columns(hume)
    cfg = to_train_config(config, {"use_audio_cache"})
    tracking_uri = mlflow.ensure_available(context.log)
    roots = corpora.roots(CORPUS_NAMES)
    out_dir = data_dir.base() / "models" / f"hume_{context.run_id}"  # a folder, or a prefix in a bucket
    tags = {"dagster_run_id": context.run_id, "asset_key": "hume_prosody_model",
            "mlflow.parentRunId": emotion_model["mlflow_run_id"]}
    with mlflow.run(run_name=f"hume_prosody-{context.run_id[:8]}", tags=tags) as run_id:
        from ser_pipeline.defs.training import DagsterMlflowCallback

        base = config.model.init_from or emotion_model["export_dir"]
        context.log.info(f"hume_prosody_model: fine-tuning from {base}")
        result = finetune_regression(base, _labelled(hume, "train"), _labelled(hume, "devel"),
                                     roots, cols, cfg, out_dir, callback=DagsterMlflowCallback(context, mlflow, run_id),
                                     cache=audio_cache(data_dir, roots, config.use_audio_cache),
                                     devel_scorer=regression_metrics)
        mlflow.log_artifacts(run_id, storage.local_copy(result.export_dir), "model")
    context.add_output_metadata({"mlflow_run_id": run_id, "mlflow_tracking_uri": tracking_uri,
                                 "export_dir": dg.MetadataValue.path(str(result.export_dir)),
                                 "steps": result.steps, "final_mse": result.final_loss})
    return {"export_dir": str(result.export_dir), "mlflow_run_id": run_id}


@dg.asset(key=["evaluation", "hume_prosody_devel"], group_name=GROUP, code_version="2", kinds={"mlflow"},
          ins={"hume_prosody_model": dg.AssetIn(), "hume": dg.AssetIn(key=corpus_key("hume_prosody"))})
def hume_prosody_devel(context: dg.AssetExecutionContext, hume_prosody_model: dict, hume: pd.DataFrame,
                       corpora: CorporaResource, data_dir: DataDirResource, mlflow: MlflowResource) -> dict:
    """Table 3 on the devel split: Pearson r per dimension and mean, Spearman ρ, argmax micro F1;
    predictions for the test rows (no labels) in ``hume_prosody_test_predictions.csv``."""
    from ser_pipeline.evaluation.metrics import regression_metrics
    from ser_pipeline.model.clips import clip_sigmoid
    from ser_pipeline.model.export import load_model
    from ser_pipeline.training.steps import resolve_device

    if hume_prosody_model.get("status") == "absent":
        context.add_output_metadata({"status": "absent (skipped)"})
        return {"status": "absent"}
    cols = _target_columns(hume)
    model, meta = load_model(hume_prosody_model["export_dir"], device=resolve_device("auto"))
    roots = corpora.roots(CORPUS_NAMES)
    devel = _labelled(hume, "devel")
    cache = audio_cache(data_dir, roots)
    pred = clip_sigmoid(model, devel, roots, cache=cache)
    metrics = regression_metrics(pred, devel[cols].to_numpy(dtype=np.float32), meta["labels"])
    test = hume[hume["official_split"] == "test"]
    out = data_dir.base() / "reports" / context.run_id / "hume_prosody_test_predictions.csv"
    if not storage.is_remote(out):
        out.parent.mkdir(parents=True, exist_ok=True)
    test_pred = clip_sigmoid(model, test, roots, cache=cache) if len(test) else np.zeros((0, len(cols)))
    csv_text = pd.DataFrame(test_pred, columns=meta["labels"]).assign(utterance_id=test["utterance_id"].to_numpy())[
        ["utterance_id", *meta["labels"]]].to_csv(index=False, float_format="%.6f")
    storage.write_bytes(out, csv_text.encode())
    run_id = hume_prosody_model["mlflow_run_id"]
    flat = {"hume/devel/pearson_mean": metrics["pearson_mean"], "hume/devel/spearman_mean": metrics["spearman_mean"],
            "hume/devel/argmax_micro_f1": metrics["argmax_micro_f1"]}
    flat.update({f"hume/devel/pearson_{k}": v for k, v in metrics["pearson"].items() if np.isfinite(v)})
    mlflow.log_metrics(run_id, flat)
    mlflow.log_artifact(run_id, storage.local_copy(out), "predictions")
    context.add_output_metadata({
        "pearson_mean": round(metrics["pearson_mean"], 4), "spearman_mean": round(metrics["spearman_mean"], 4),
        "argmax_micro_f1": round(metrics["argmax_micro_f1"] * 100, 2), "n_devel": len(devel), "n_test": len(test),
        "test_predictions": dg.MetadataValue.path(str(out)),
        "pearson_per_dimension": dg.MetadataValue.md("| dimension | r |\n|---|---|\n" + "\n".join(
            f"| {k} | {v:.3f} |" for k, v in metrics["pearson"].items()))})
    return {**metrics, "test_predictions": str(out)}


HUME_ASSETS = [hume_prosody_model, hume_prosody_devel] if "hume_prosody" in CORPUS_NAMES else []
