"""The trained model as an MLflow pyfunc model (input: audio paths; output: clip probabilities and
the 50 Hz timeline), its registration, and resolving ``models:/`` / ``runs:/`` URIs for ``ser predict``."""

import json
from pathlib import Path

import mlflow
import mlflow.pyfunc
import pandas as pd

REGISTERED_NAME = "ser_emotion_model"
PIP_REQUIREMENTS = ["torch==2.13.0", "transformers>=5,<6", "safetensors", "soundfile", "soxr", "numpy", "pandas"]


class SerEmotionPyfunc(mlflow.pyfunc.PythonModel):
    """``predict(DataFrame[path])`` -> one row per file: ``top``, the 8 clip probabilities
    (labels order) and ``timeline`` (JSON: frame times in s and per-frame probabilities at 50 Hz)."""

    def load_context(self, context) -> None:
        from ser_pipeline.model.export import load_model

        self.model, self.meta = load_model(context.artifacts["export"])

    def predict(self, context, model_input, params=None) -> pd.DataFrame:
        from ser_pipeline.emotions import CLASSES
        from ser_pipeline.inference import predict_file

        if isinstance(model_input, pd.DataFrame):
            paths = model_input["path"].tolist() if "path" in model_input else model_input.iloc[:, 0].tolist()
        else:
            paths = list(model_input)
        params = params or {}
        rows = []
        for p in paths:
            pred = predict_file(self.model, self.meta, p, hop_s=params.get("hop_s"), ban=params.get("ban", ()))
            rows.append({"path": str(p), "top": pred.top,
                         **{c: float(v) for c, v in zip(CLASSES, pred.clip_probs, strict=True)},
                         "timeline": json.dumps({"frame_rate": pred.frame_rate,
                                                 "probs": pred.frame_probs.round(6).tolist()})})
        return pd.DataFrame(rows)


def log_and_register(run_id: str, export_dir: str | Path, tracking_uri: str,
                     registered_name: str = REGISTERED_NAME) -> str:
    """Log the export as a pyfunc model in ``run_id`` and register it; returns the model URI."""
    mlflow.set_tracking_uri(tracking_uri)
    with mlflow.start_run(run_id=run_id):
        info = mlflow.pyfunc.log_model(name="pyfunc_model", python_model=SerEmotionPyfunc(),
                                       artifacts={"export": str(export_dir)}, pip_requirements=PIP_REQUIREMENTS,
                                       registered_model_name=registered_name)
    return info.model_uri


def download_export(uri: str, tracking_uri: str | None = None) -> Path:
    """A local export folder for ``models:/name/version``, ``models:/name@alias`` or
    ``runs:/id/pyfunc_model`` URIs, read from ``tracking_uri`` (the process's default if None)."""
    if tracking_uri:
        # process-wide as well: MLflow resolves a registered version's logged model (models:/m-...)
        # through the default store, which would otherwise be ./mlflow.db of the working folder
        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(tracking_uri)
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, tracking_uri=tracking_uri,
                                                          registry_uri=tracking_uri))
    for candidate in (local / "artifacts" / "export", local / "export", local):
        if (candidate / "ser_model.json").exists():
            return candidate
    found = list(local.rglob("ser_model.json"))
    if not found:
        raise FileNotFoundError(f"{uri}: no ser_model.json in the downloaded artifacts at {local}")
    return found[0].parent
