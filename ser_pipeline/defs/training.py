"""The ``emotion_model`` asset: trains the Whisper-encoder model and logs it to MLflow.

By default the training entry point runs as a subprocess through Dagster Pipes
(``python -m ser_pipeline.training --config SPEC --callback ...PipesCallback``, or the same under
``torchrun`` for several GPUs), so the same command can run in a k8s pod. Its reports arrive in
the Dagster log and, live, in the MLflow run that this asset opens.
"""

import json
import os
import shutil
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import yaml

from ser_pipeline import storage
from ser_pipeline.defs.cache import audio_cache, cache_dir
from ser_pipeline.defs.corpora import CORPUS_NAMES
from ser_pipeline.defs.io import write_parquet
from ser_pipeline.defs.resources import CorporaResource, DataDirResource, MlflowResource
from ser_pipeline.defs.run_guard import die_with_run
from ser_pipeline.defs.train_config import LAUNCH_CONFIG_FIELDS, to_launch, to_train_config, train_config_class
from ser_pipeline.defs.ui_metadata import mlflow_run_link
from ser_pipeline.labels.splits import training_meta
from ser_pipeline.training.config import TrainConfig
from ser_pipeline.training.launch import RESULT_FILE, Launch, node_command

GROUP = "training"
#: GPU request for step pods under k8s_job_executor (asset op_tags apply on every launch path).
GPU_OP_TAGS = {"dagster-k8s/config": {"container_config": {"resources": {"limits": {"nvidia.com/gpu": 1}}}}}
PIPES_CALLBACK = "ser_pipeline.defs.pipes_callback:PipesCallback"


class EmotionModelConfig(train_config_class("EmotionModelTrainConfig", launch=True)):
    """Every training field of ``ser_pipeline.training.config.TrainConfig`` (``model:`` nested),
    every launch field of ``ser_pipeline.training.launch.Launch`` (processes, nodes, rendezvous),
    plus how this asset launches and records the run."""

    launcher: str = "pipes"  # pipes (subprocess, as in a pod) | in_process (debugging)
    use_audio_cache: bool = True  # read clips from audio_cache/<corpus> where it exists
    register_model: bool = True  # log a pyfunc model and register it as "ser_emotion_model"
    # no training: take this model (a released v1 .pt / v2 .ckpt, or an export folder) as the
    # emotion model, so every evaluation asset scores it (paper Table 2 for a released model)
    model_file: str | None = None

    def to_train_config(self) -> TrainConfig:
        return to_train_config(self, LAUNCH_FIELDS)


LAUNCH_FIELDS = {"launcher", "use_audio_cache", "register_model", "model_file"} | LAUNCH_CONFIG_FIELDS


class DagsterMlflowCallback:
    """In-process launcher: streams the loop's reports into MLflow and the Dagster log."""

    def __init__(self, context: dg.AssetExecutionContext, mlflow: MlflowResource, run_id: str):
        self.context, self.mlflow, self.run_id = context, mlflow, run_id

    def on_step(self, step: int, metrics: dict[str, float]) -> None:
        self.mlflow.log_metrics(self.run_id, metrics, step=step)

    def on_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        self.mlflow.log_metrics(self.run_id, {f"epoch/{k}": v for k, v in metrics.items()}, step=epoch)
        self.context.log.info(f"epoch {epoch}: {metrics}")

    def on_params(self, params: dict[str, Any]) -> None:
        self.mlflow.log_params(self.run_id, params)


def adopt_model_file(path: str, export_dir) -> dict:
    """Export a given model file (release or export folder) as this run's emotion model."""
    from ser_pipeline.model.export import export_model, load_model

    try:
        model, meta = load_model(path)
    except (OSError, ValueError) as exc:
        raise dg.Failure(f"emotion_model.model_file: {exc}") from exc
    if meta.get("task", "emotion") != "emotion":
        raise dg.Failure(f"emotion_model.model_file {path} is a {meta['task']} model, not an emotion model")
    export_model(model, export_dir, prior=meta["prior"], source={"model_file": str(path), **meta.get("source", {})})
    return {"export_dir": str(export_dir), "steps": 0, "val_micro_f1": None, "final_loss": float("nan"),
            "seconds": 0.0}


#: ``python -m WITH_PARENT MODULE ...`` runs ``python -m MODULE ...`` so that it dies with its launcher
WITH_PARENT = "ser_pipeline.procs"


def _run_over(instance: dg.DagsterInstance, run_id: str) -> bool:
    """Whether Dagster run ``run_id`` of this instance has ended (runs of other instances: no)."""
    run = instance.get_run_by_id(run_id)
    return run is not None and run.is_finished


def training_command(spec_path: str, launch: Launch) -> list[str]:
    """The command Pipes launches (torchrun for several processes or nodes; the other nodes run
    ``ser train-node-command SPEC``). Every process of it (torchrun's agent and each rank) dies with
    the process that started it, so a killed run leaves no orphan."""
    return node_command(spec_path, launch, via=WITH_PARENT, entry_args=["--callback", PIPES_CALLBACK])


def _training_result(invocation: dg.PipesClientCompletedInvocation, run_dir: Path, launch: Launch,
                     log) -> dict:
    """The result the training ranks reported over Pipes, else (several nodes, global rank 0 on
    another node, which has no Pipes session) the ``result.json`` rank 0 wrote next to the spec."""
    results = [m for m in invocation.get_custom_messages() if isinstance(m, dict) and m.get("kind") == "result"]
    if results:
        return results[-1]
    result_file = run_dir / RESULT_FILE
    if launch.nnodes > 1 and result_file.is_file():
        log.warning(f"emotion_model: global rank 0 ran on another node; its step and epoch reports are "
                    f"in that node's log, not in MLflow; result from {result_file}")
        return json.loads(result_file.read_text())
    raise dg.Failure("the training subprocess finished without reporting a result")


# deps on the audio caches: in a run that builds them, training waits for them and reads them
# (it never needs them: a clip the cache lacks is decoded from its file). One dep on their
# fan-in (cache.audio_caches): a skipped cache of an absent corpus must not skip training.
@dg.asset(group_name=GROUP, code_version="3", kinds={"pytorch", "mlflow"}, pool="gpu", op_tags=GPU_OP_TAGS,
          deps=[dg.AssetKey("audio_caches")])
def emotion_model(context: dg.AssetExecutionContext, config: EmotionModelConfig, splits: pd.DataFrame,
                  corpora: CorporaResource, data_dir: DataDirResource, mlflow: MlflowResource,
                  pipes_subprocess_client: dg.PipesSubprocessClient) -> dg.Output[dict]:
    """Train the emotion model on the train split (Algorithm 1 packing, augmentation, Whisper
    encoder + emotion and adversarial domain heads); export safetensors + config + labels + prior;
    log params, per-step loss/lr and per-epoch validation F1 to MLflow."""
    cfg = config.to_train_config()
    if config.launcher not in ("pipes", "in_process"):
        raise dg.Failure(f"emotion_model.launcher must be pipes or in_process, not {config.launcher!r}")
    launch = to_launch(config, "emotion_model", rdzv_id=context.run_id)
    if launch.distributed and config.launcher != "pipes" and not config.model_file:
        raise dg.Failure(f"emotion_model.launcher: in_process runs one process; nproc_per_node="
                         f"{launch.nproc_per_node} and nnodes={launch.nnodes} need launcher: pipes")
    run_dir = data_dir.base() / "models" / context.run_id  # a folder, or a prefix in a bucket
    die_with_run()  # a step process of a killed run stops (and its training child with it)
    tracking_uri = mlflow.ensure_available(context.log)  # fail fast, before hours of training
    mlflow.fail_orphaned_runs(lambda run_id: _run_over(context.instance, run_id), context.log)
    meta = training_meta(splits)  # domain vocabulary + prior, from the input table (no side file)
    roots = corpora.roots(CORPUS_NAMES)
    table = splits[splits["split"].isin(["train", "validation"])]
    write_parquet(table, run_dir / "train_table.parquet")
    spec = {"splits_table": str(run_dir / "train_table.parquet"),
            "corpus_roots": roots, "out_dir": str(run_dir), "train": cfg.to_dict(),
            "audio_cache": str(cache_dir(data_dir)) if config.use_audio_cache else None,
            "launch": launch.to_dict()}
    spec_text = yaml.safe_dump(spec)
    if not storage.is_remote(run_dir):
        run_dir.mkdir(parents=True, exist_ok=True)
    storage.write_bytes(run_dir / "spec.yaml", spec_text.encode())
    # MLflow logs local files: the spec's copy in the step's staging folder
    spec_copy = data_dir.staging_dir() / f"spec-{context.run_id}" / "spec.yaml"
    spec_copy.parent.mkdir(parents=True, exist_ok=True)
    spec_copy.write_text(spec_text)
    if (run_dir / RESULT_FILE).exists():
        (run_dir / RESULT_FILE).unlink()
    tags = {"dagster_run_id": context.run_id, "asset_key": "emotion_model", "mlflow.source.name": "ser_pipeline"}
    if config.model_file:
        tags["ser.model_file"] = str(config.model_file)
    with mlflow.run(run_name=f"emotion_model-{context.run_id[:8]}", tags=tags) as run_id:
        if config.model_file:
            result = adopt_model_file(config.model_file, run_dir / "export")
            context.log.info(f"emotion_model: no training, evaluating {config.model_file}")
        elif config.launcher == "pipes":
            if launch.nnodes > 1:
                context.log.info(f"emotion_model: waiting up to {launch.rdzv_timeout_s} s for {launch.nnodes - 1} "
                                 f"more node(s) at {launch.rdzv_endpoint}; on each run: "
                                 f"ser train-node-command {run_dir / 'spec.yaml'}")
            invocation = pipes_subprocess_client.run(
                command=training_command(str(run_dir / "spec.yaml"), launch), context=context,
                extras={"mlflow_run_id": run_id, "mlflow_tracking_uri": tracking_uri},
                env={**os.environ, "PYTHONUNBUFFERED": "1"})
            result = _training_result(invocation, run_dir, launch, context.log)
        else:
            from ser_pipeline.training.loop import train  # torch: imported only where it runs

            r = train(cfg, table[table["split"] == "train"], table[table["split"] == "validation"], roots,
                      domain_vocab=meta.domain_vocab, prior=meta.prior, out_dir=run_dir,
                      callback=DagsterMlflowCallback(context, mlflow, run_id),
                      cache=audio_cache(data_dir, roots, config.use_audio_cache))
            result = {"export_dir": str(r.export_dir), "steps": r.steps, "val_micro_f1": r.val_micro_f1,
                      "final_loss": r.final_loss, "seconds": r.seconds}
        export_local = storage.local_copy(result["export_dir"])  # the export itself when local
        mlflow.log_artifacts(run_id, export_local, "model")
        mlflow.log_artifact(run_id, spec_copy)
        shutil.rmtree(spec_copy.parent, ignore_errors=True)
        registered = None
        if config.register_model:
            from ser_pipeline.defs.mlflow_model import register_export

            registered = register_export(context, table, roots, str(export_local), tracking_uri, run_id)
        mlflow.log_metrics(run_id, {"train/final_loss": result["final_loss"], "train/seconds": result["seconds"]})
    value = {"export_dir": result["export_dir"], "mlflow_run_id": run_id, "steps": int(result["steps"]),
             "val_micro_f1": result.get("val_micro_f1"),
             "registered_version": registered.version if registered else None}
    # An explicit Output: with a Pipes session open, Dagster treats the body's results as events.
    return dg.Output(value, metadata={
        "mlflow_run_id": mlflow_run_link(mlflow, run_id),
        "mlflow_tracking_uri": tracking_uri,
        "export_dir": dg.MetadataValue.path(result["export_dir"]),
        "launcher": (f"torchrun {launch.nnodes} node(s) x {launch.nproc_per_node}" if launch.distributed
                     else config.launcher),
        "steps": int(result["steps"]),
        "final_loss": float(result["final_loss"]),
        "validation_micro_f1": float(result["val_micro_f1"]) if result.get("val_micro_f1") is not None else -1.0,
        "n_train": int((table["split"] == "train").sum()),
        "seconds": round(float(result["seconds"]), 1),
    })
