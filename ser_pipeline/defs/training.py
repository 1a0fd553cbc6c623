"""The ``emotion_model`` asset: trains the Whisper-encoder model and logs it to MLflow."""


import json
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd

from ser_pipeline.defs.corpora import CORPUS_NAMES
from ser_pipeline.defs.resources import CorporaResource, DataDirResource, MlflowResource
from ser_pipeline.training.config import TrainConfig
from ser_pipeline.training.loop import train

GROUP = "training"
#: GPU request for step pods under k8s_job_executor (asset op_tags apply on every launch path).
GPU_OP_TAGS = {"dagster-k8s/config": {"container_config": {"resources": {"limits": {"nvidia.com/gpu": 1}}}}}


class EmotionModelConfig(dg.Config):
    """Training hyper-parameters (see ser_pipeline.training.config.TrainConfig for all fields)."""

    epochs: int = 3
    batch_size: int = 8
    lr: float = 3e-4
    window_s: float = 30.0
    seed: int = 0
    device: str = "auto"
    pretrained_dir: str | None = None  # local whisper-medium save_pretrained folder
    d_model: int = 64
    encoder_layers: int = 2
    encoder_attention_heads: int = 2
    encoder_ffn_dim: int = 256
    extra: str = "{}"  # JSON object of any other TrainConfig fields, e.g. '{"grad_clip": 0.5}'

    def to_train_config(self) -> TrainConfig:
        try:
            extra = json.loads(self.extra or "{}")
        except json.JSONDecodeError as exc:
            raise dg.Failure(f"emotion_model.extra is not valid JSON: {exc}") from exc
        model = {"pretrained_dir": self.pretrained_dir, "d_model": self.d_model,
                 "encoder_layers": self.encoder_layers, "encoder_attention_heads": self.encoder_attention_heads,
                 "encoder_ffn_dim": self.encoder_ffn_dim, **extra.pop("model", {})}
        d = {"epochs": self.epochs, "batch_size": self.batch_size, "lr": self.lr, "window_s": self.window_s,
             "seed": self.seed, "device": self.device, **extra, "model": model}
        try:
            return TrainConfig.from_dict(d)
        except ValueError as exc:
            raise dg.Failure(f"emotion_model config: {exc}") from exc


class DagsterMlflowCallback:
    """Streams the loop's reports into MLflow and the Dagster log."""

    def __init__(self, context: dg.AssetExecutionContext, mlflow: MlflowResource, run_id: str):
        self.context, self.mlflow, self.run_id = context, mlflow, run_id
        self.epochs: list[dict[str, float]] = []

    def on_step(self, step: int, metrics: dict[str, float]) -> None:
        self.mlflow.log_metrics(self.run_id, metrics, step=step)

    def on_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        self.epochs.append({"epoch": epoch, **metrics})
        self.mlflow.log_metrics(self.run_id, {f"epoch/{k}": v for k, v in metrics.items()}, step=epoch)
        self.context.log.info(f"epoch {epoch}: {metrics}")

    def on_params(self, params: dict[str, Any]) -> None:
        self.mlflow.log_params(self.run_id, params)


@dg.asset(group_name=GROUP, code_version="1", kinds={"pytorch", "mlflow"}, pool="gpu", op_tags=GPU_OP_TAGS)
def emotion_model(context: dg.AssetExecutionContext, config: EmotionModelConfig, splits: pd.DataFrame,
                  corpora: CorporaResource, data_dir: DataDirResource, mlflow: MlflowResource) -> dict:
    """Train the emotion model on the train split; export safetensors + config + labels + prior;
    log params, per-step loss/lr and per-epoch validation F1 to MLflow."""
    cfg = config.to_train_config()
    mlflow.ensure_available(context.log)  # fail fast, before hours of training
    meta = json.loads((data_dir.base() / "assets" / "splits_meta.json").read_text())
    roots = corpora.roots(CORPUS_NAMES)
    train_df = splits[splits["split"] == "train"]
    val_df = splits[splits["split"] == "validation"]
    out_dir = data_dir.base() / "models" / context.run_id
    tags = {"dagster_run_id": context.run_id, "asset_key": "emotion_model", "mlflow.source.name": "ser_pipeline"}
    with mlflow.run(run_name=f"emotion_model-{context.run_id[:8]}", tags=tags) as run_id:
        cb = DagsterMlflowCallback(context, mlflow, run_id)
        result = train(cfg, train_df, val_df, roots, domain_vocab=meta["domain_vocab"],
                       prior=np.array(meta["prior"]), out_dir=out_dir, callback=cb)
        mlflow.log_artifacts(run_id, result.export_dir, "model")
        mlflow.log_metrics(run_id, {"train/final_loss": result.final_loss, "train/seconds": result.seconds})
    context.add_output_metadata({
        "mlflow_run_id": run_id,
        "mlflow_tracking_uri": mlflow.uri(),
        "export_dir": dg.MetadataValue.path(str(result.export_dir)),
        "steps": result.steps,
        "final_loss": float(result.final_loss),
        "validation_micro_f1": float(result.val_micro_f1) if result.val_micro_f1 is not None else -1.0,
        "n_train": len(train_df),
        "seconds": round(result.seconds, 1),
    })
    return {"export_dir": str(result.export_dir), "mlflow_run_id": run_id, "steps": result.steps,
            "val_micro_f1": result.val_micro_f1}
