"""Evaluation assets ``evaluation/<set>``: Table 2 metrics per set, logged to the model's MLflow run."""


import dagster as dg
import numpy as np
import pandas as pd

from ser_pipeline.defs.corpora import CORPUS_NAMES
from ser_pipeline.defs.resources import CorporaResource, MlflowResource
from ser_pipeline.emotions import CLASSES, SOFT_COLUMNS
from ser_pipeline.evaluation.metrics import ban_classes, logit_adjust, micro_f1, per_class_f1
from ser_pipeline.evaluation.protocol import clip_logits
from ser_pipeline.training.loop import load_exported

GROUP = "evaluation"
EVAL_SETS = ("validation", "iemocap_s4", "emodb", "aesdd", "urdu", "masc")
RANDOM_HEAD_SEED = 1234


def select_set(splits: pd.DataFrame, name: str) -> pd.DataFrame:
    """Rows of evaluation set ``name`` (validation, iemocap_s4 = the test split, or a zero-shot corpus)."""
    if name == "validation":
        return splits[splits["split"] == "validation"]
    if name == "iemocap_s4":
        return splits[(splits["split"] == "test") & (splits["corpus"] == "iemocap")]
    return splits[(splits["split"] == "zero_shot") & (splits["corpus"] == name)]


def score_set(logits: np.ndarray, y_true: np.ndarray, prior: np.ndarray, tau: float = 1.0) -> dict[str, float]:
    """Micro F1 and per-emotion F1 with banning of absent classes and logit adjustment (§3.1)."""
    allowed = np.zeros(len(CLASSES), dtype=bool)
    allowed[np.unique(y_true)] = True
    pred = ban_classes(logit_adjust(logits, prior, tau), allowed).argmax(axis=1)
    f1 = per_class_f1(y_true, pred, len(CLASSES))
    out = {"micro_f1": micro_f1(y_true, pred), "n": float(len(y_true))}
    out.update({f"f1_{c}": float(f1[i]) for i, c in enumerate(CLASSES) if allowed[i]})
    return out


def make_evaluation_asset(name: str) -> dg.AssetsDefinition:
    @dg.asset(key=["evaluation", name], group_name=GROUP, code_version="1", kinds={"pandas", "mlflow"},
              ins={"splits": dg.AssetIn(), "emotion_model": dg.AssetIn()})
    def _evaluation(context: dg.AssetExecutionContext, splits: pd.DataFrame, emotion_model: dict,
                    corpora: CorporaResource, mlflow: MlflowResource) -> pd.DataFrame:
        rows = select_set(splits, name)
        if rows.empty:
            context.log.warning(f"evaluation/{name}: no rows (corpus absent or not in the splits) — skipped")
            context.add_output_metadata({"status": "no rows (skipped)"})
            return pd.DataFrame(columns=["set", "model", "metric", "value"])
        model, meta = load_exported(emotion_model["export_dir"])
        roots = corpora.roots(CORPUS_NAMES)
        prior = np.array(meta["prior"])
        y_true = rows[list(SOFT_COLUMNS)].to_numpy().argmax(axis=1)
        trained = score_set(clip_logits(model, rows, roots, window_s=meta["window_s"]), y_true, prior)
        model.reset_head(RANDOM_HEAD_SEED)  # the paper's "Random F1": same encoder, fresh head
        random = score_set(clip_logits(model, rows, roots, window_s=meta["window_s"]), y_true, prior)
        metrics = {f"eval/{name}/{k}": v for k, v in trained.items() if k != "n"}
        metrics.update({f"eval/{name}/random_head/{k}": v for k, v in random.items() if k != "n"})
        mlflow.log_metrics(emotion_model["mlflow_run_id"], metrics)
        records = [{"set": name, "model": "trained", "metric": k, "value": v} for k, v in trained.items()]
        records += [{"set": name, "model": "random_head", "metric": k, "value": v} for k, v in random.items()]
        context.add_output_metadata({
            "micro_f1": round(trained["micro_f1"] * 100, 2),
            "random_head_micro_f1": round(random["micro_f1"] * 100, 2),
            "n": len(rows),
            "mlflow_run_id": emotion_model["mlflow_run_id"],
            "per_emotion_f1": dg.MetadataValue.md(
                "| emotion | F1 |\n|---|---|\n" + "\n".join(
                    f"| {c} | {trained[f'f1_{c}'] * 100:.2f} |" if f"f1_{c}" in trained else f"| {c} | - |"
                    for c in CLASSES)),
        })
        return pd.DataFrame.from_records(records)

    return _evaluation


EVALUATION_ASSETS = [make_evaluation_asset(n) for n in EVAL_SETS]
