"""The trained model as an MLflow pyfunc model (input: audio paths; output: clip probabilities and
the 50 Hz timeline), its registration (description, tags, signature), the ``champion`` /
``challenger`` aliases, and resolving ``models:/`` / ``runs:/`` URIs for ``ser predict``."""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import mlflow
import mlflow.pyfunc
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models.signature import ModelSignature
from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema

from ser_pipeline.emotions import CLASSES
from ser_pipeline.evaluation.promotion import CHAMPION, Decision, decide

REGISTERED_NAME = "ser_emotion_model"
#: prefix of the model-version tags that hold the metrics the promotion rule compares
METRIC_TAG = "ser.metric."
#: the pyfunc's interface: a DataFrame with one column ``path`` (audio files, any format
#: soundfile reads; decoded to mono 16 kHz inside) -> one row per file
SIGNATURE = ModelSignature(
    inputs=Schema([ColSpec("string", "path")]),
    outputs=Schema([ColSpec("string", "path"), ColSpec("string", "top"),
                    *[ColSpec("double", c) for c in CLASSES], ColSpec("string", "timeline")]),
    params=ParamSchema([ParamSpec("hop_s", "double", None), ParamSpec("ban", "string", [], (-1,))]),
)
DESCRIPTION = (
    "Speech emotion recognition (Whisper encoder + linear head per 20 ms frame; 'Soft Labeling and Data "
    "Augmentation for Modeling Temporal Emotion Shifts'). pyfunc input: a DataFrame with a string column "
    "`path` (audio files; decoded to mono 16 kHz). Output, one row per file: `top` (the clip's emotion), the "
    f"8 clip probabilities ({', '.join(CLASSES)}) and `timeline` (JSON: frame_rate 50 Hz and per-frame "
    "probabilities). Params: hop_s (seconds between windows of long audio), ban (classes never predicted). "
    "Alias `champion`: the best version so far (what `ser predict` uses); `challenger`: the latest that was not "
    "at least as good."
)
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


@dataclass(frozen=True)
class Registered:
    model_uri: str  # the logged model (models:/m-...)
    name: str
    version: str  # the registered version


def registry_tags(train_table: pd.DataFrame, window_s: float, splits_data_version: str | None,
                  synthetic_corpora: list[str] = ()) -> dict[str, str]:
    """Model-version tags: label order, window, the training corpora present (with rows and hours)
    and the ``splits`` data version the model was trained on.

    Args:
        train_table: the train + validation rows (``corpus``, ``split``, ``duration_s``).
        synthetic_corpora: training corpora whose speech was generated (the demo's).
    """
    train = train_table[train_table["split"] == "train"]
    corpora = sorted(train["corpus"].unique())
    tags = {"label_order": ",".join(CLASSES), "window_s": f"{window_s:g}",
            "training_corpora": ",".join(corpora), "training_rows": str(len(train)),
            "training_hours": f"{train['duration_s'].sum() / 3600:.3f}",
            "splits_data_version": splits_data_version or "unknown"}
    if synthetic_corpora:
        tags["synthetic_speech"] = ",".join(sorted(synthetic_corpora))
    return tags


def log_and_register(run_id: str, export_dir: str | Path, tracking_uri: str,
                     registered_name: str = REGISTERED_NAME, tags: Mapping[str, str] | None = None) -> Registered:
    """Log the export as a pyfunc model in ``run_id`` (with :data:`SIGNATURE`) and register it with
    :data:`DESCRIPTION` and ``tags`` (see :func:`registry_tags`); returns the registered version."""
    mlflow.set_tracking_uri(tracking_uri)
    # log_model registers through the process's registry URI, which an earlier download_export in
    # this process (another store) may have set: register where the run is
    mlflow.set_registry_uri(tracking_uri)
    with mlflow.start_run(run_id=run_id):
        info = mlflow.pyfunc.log_model(name="pyfunc_model", python_model=SerEmotionPyfunc(),
                                       artifacts={"export": str(export_dir)}, pip_requirements=PIP_REQUIREMENTS,
                                       signature=SIGNATURE, registered_model_name=registered_name)
    version = str(info.registered_model_version)
    client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    client.update_registered_model(registered_name, description=DESCRIPTION)
    client.set_registered_model_tag(registered_name, "label_order", ",".join(CLASSES))
    tags = dict(tags or {})
    for key, value in tags.items():
        client.set_model_version_tag(registered_name, version, key, str(value))
    trained_on = (f"Trained on {tags['training_rows']} rows ({tags['training_hours']} h) of "
                  f"{tags['training_corpora'] or 'no corpus'}" if "training_corpora" in tags else "")
    synthetic = f"; synthetic (generated) speech: {tags['synthetic_speech']}" if tags.get("synthetic_speech") else ""
    client.update_model_version(registered_name, version, description=(
        f"{trained_on}{synthetic}. Window {tags.get('window_s', '?')} s; splits data version "
        f"{tags.get('splits_data_version', 'unknown')}; MLflow run {run_id}.").lstrip(". "))
    return Registered(info.model_uri, registered_name, version)


def register_export(context, table: pd.DataFrame, roots: Mapping[str, str], export_dir: str | Path,
                    tracking_uri: str, run_id: str) -> Registered:
    """What the ``emotion_model`` asset registers: the export with :func:`registry_tags` from its
    train/validation ``table``, the corpus ``roots`` (synthetic markers) and the latest ``splits``
    data version in ``context``'s instance."""
    from ser_pipeline.defs.automation import latest_splits_version
    from ser_pipeline.model.export import read_export_meta
    from ser_pipeline.synth import is_synthetic

    synthetic = [c for c in table["corpus"].unique() if c in roots and is_synthetic(roots[c])]
    tags = registry_tags(table, read_export_meta(export_dir)["window_s"], latest_splits_version(context.instance),
                         synthetic)
    registered = log_and_register(run_id, export_dir, tracking_uri, tags=tags)
    context.log.info(f"registered {registered.name} version {registered.version} ({registered.model_uri})")
    return registered


@dataclass(frozen=True)
class Promotion:
    version: str
    decision: Decision
    champion_before: str | None  # the champion's version before this decision
    metrics: dict[str, float]  # the new version's compared metrics
    champion_metrics: dict[str, float] | None


def _metric_tags(tags: Mapping[str, str]) -> dict[str, float]:
    return {k[len(METRIC_TAG):]: float(v) for k, v in tags.items() if k.startswith(METRIC_TAG)}


def promote(client, version: str, metrics: Mapping[str, float], name: str = REGISTERED_NAME) -> Promotion:
    """Store ``metrics`` as tags of ``version`` and give it the alias the promotion rule chooses
    (:func:`ser_pipeline.evaluation.promotion.decide`) against the current ``champion``'s tags.

    Args:
        client: an ``MlflowClient`` on the registry.
        metrics: see :func:`ser_pipeline.evaluation.promotion.comparison_metrics`.
    """
    for key, value in metrics.items():
        client.set_model_version_tag(name, version, METRIC_TAG + key, repr(float(value)))
    try:
        current = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:  # no champion yet
        current = None
    champion_metrics = _metric_tags(current.tags) if current is not None else None
    if current is not None and str(current.version) == str(version):
        decision = Decision(CHAMPION, "the champion itself, evaluated again")
    else:
        decision = decide(metrics, champion_metrics)
    client.set_registered_model_alias(name, decision.alias, version)
    client.set_model_version_tag(name, version, "ser.promotion", decision.reason[:5000])
    return Promotion(str(version), decision, None if current is None else str(current.version),
                     dict(metrics), champion_metrics)


def current_model_uri(uri: str) -> str:
    """``models:/NAME`` (no version, no alias) means the current model: ``models:/NAME@champion``."""
    rest = uri[len("models:/"):] if uri.startswith("models:/") else None
    if rest and "/" not in rest.rstrip("/") and "@" not in rest and not rest.startswith("m-"):
        return f"models:/{rest.rstrip('/')}@{CHAMPION}"
    return uri


def download_export(uri: str, tracking_uri: str | None = None) -> Path:
    """A local export folder for ``models:/name/version``, ``models:/name@alias``, ``models:/name``
    (its ``champion``) or ``runs:/id/pyfunc_model`` URIs, read from ``tracking_uri`` (the
    process's default if None)."""
    uri = current_model_uri(uri)
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
