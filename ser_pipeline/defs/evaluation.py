"""Evaluation assets: ``evaluation/<set>`` (Table 2 metrics per set), ``evaluation_report`` (the
whole Table 2 + heatmap + confusion matrices) and ``temporal_evaluation`` (emotion-shift windows),
all logged to the emotion model's MLflow run."""


import shutil
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd

from ser_pipeline import storage
from ser_pipeline.defs.cache import audio_cache
from ser_pipeline.defs.corpora import CORPUS_NAMES
from ser_pipeline.defs.resources import CorporaResource, DataDirResource, MlflowResource
from ser_pipeline.defs.ui_metadata import mlflow_run_link, report_images
from ser_pipeline.emotions import SOFT_COLUMNS
from ser_pipeline.evaluation.metrics import evaluate_predictions, table2_classes

# torch-heavy modules are imported inside the assets: every Dagster step process loads this file.

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


class EvaluationConfig(dg.Config):
    """The paper's protocol (§3.1): one clip padded to the window, mean logits over its frames."""

    tau: float = 1.0  # logit adjustment z − τ·log(prior)
    valid_frames_only: bool = True  # mean over the clip's frames (False: over the whole window)
    batch_size: int = 16
    packed_context: bool = True  # also score each clip inside packed windows, as in training
    use_audio_cache: bool = True  # read clips from audio_cache/<corpus> where it holds them


def flat_metrics(prefix: str, result: dict) -> dict[str, float]:
    """MLflow metric names: adjusted (the paper's) at ``prefix/``, unadjusted at ``prefix/raw/``."""
    out = {}
    for variant, sub in (("adjusted", ""), ("raw", "raw/")):
        r = result[variant]
        out.update({f"{prefix}/{sub}micro_f1": r["micro_f1"], f"{prefix}/{sub}macro_f1": r["macro_f1"],
                    f"{prefix}/{sub}uar": r["uar"]})
        out.update({f"{prefix}/{sub}f1_{c}": v for c, v in r["per_class_f1"].items() if v is not None})
    return out


def random_head_model(model, meta: dict, log) -> tuple[object, str]:
    """Paper Table 2's "Random F1" model: the *initial* encoder of the training run (rebuilt from
    its exported train config: same seed, same weights files) with a freshly initialised head.
    A model that was not trained here (e.g. an evaluated release file) is its own initial encoder.
    Returns (model, where its encoder came from)."""
    from ser_pipeline.model.build import initial_model

    train_config = meta.get("train_config") or {}
    if not train_config:
        baseline, source = model, "the evaluated model's (not trained here)"
    else:
        try:
            baseline, source = initial_model(train_config, int(meta.get("n_domains", 0))), "initial (before training)"
        except (OSError, ValueError) as exc:  # e.g. a pretrained_dir that is gone
            log.warning(f"random head: cannot rebuild the initial encoder ({exc}); using the trained one")
            baseline, source = model, "trained (initial weights unavailable)"
    baseline.reset_head(RANDOM_HEAD_SEED)
    return baseline, source


def make_evaluation_asset(name: str) -> dg.AssetsDefinition:
    @dg.asset(key=["evaluation", name], group_name=GROUP, code_version="3", kinds={"pandas", "mlflow"},
              ins={"splits": dg.AssetIn(), "emotion_model": dg.AssetIn()},
              description=f"Table 2 metrics of the trained model and the random-head baseline on {name}.")
    def _evaluation(context: dg.AssetExecutionContext, config: EvaluationConfig, splits: pd.DataFrame,
                    emotion_model: dict, corpora: CorporaResource, data_dir: DataDirResource,
                    mlflow: MlflowResource) -> dict:
        rows = select_set(splits, name)
        if rows.empty:
            context.log.warning(f"evaluation/{name}: no rows (corpus absent or not in the splits) — skipped")
            context.add_output_metadata({"status": "no rows (skipped)"})
            return {"set": name, "n": 0}
        from ser_pipeline.evaluation.protocol import clip_embeddings, head_logits, packed_clip_logits
        from ser_pipeline.model.export import load_model

        model, meta = load_model(emotion_model["export_dir"])
        roots = corpora.roots(CORPUS_NAMES)
        cache = audio_cache(data_dir, roots, config.use_audio_cache)
        prior = np.array(meta["prior"])
        y_true = rows[list(SOFT_COLUMNS)].to_numpy().argmax(axis=1)
        allowed = table2_classes(name, y_true)  # Table 2's classes for its sets; the rest are banned

        def score(m) -> dict:
            emb = clip_embeddings(m, rows, roots, batch_size=config.batch_size,
                                  valid_only=config.valid_frames_only, cache=cache)
            return evaluate_predictions(head_logits(m, emb), y_true, allowed, prior, config.tau)

        trained = score(model)
        packed = None
        if config.packed_context:
            packed = evaluate_predictions(packed_clip_logits(model, rows, roots, cache=cache),
                                          y_true, allowed, prior, config.tau)
        baseline, encoder_source = random_head_model(model, meta, context.log)
        random = score(baseline)
        metrics = flat_metrics(f"eval/{name}", trained)
        metrics.update(flat_metrics(f"eval/{name}/random_head", random))
        if packed is not None:
            metrics.update(flat_metrics(f"eval/{name}/packed", packed))
        mlflow.log_metrics(emotion_model["mlflow_run_id"], metrics)
        adj = trained["adjusted"]
        context.add_output_metadata({
            "micro_f1": round(adj["micro_f1"] * 100, 2),
            "macro_f1": round(adj["macro_f1"] * 100, 2),
            "uar": round(adj["uar"] * 100, 2),
            "random_head_micro_f1": round(random["raw"]["micro_f1"] * 100, 2),
            "random_head_micro_f1_adjusted": round(random["adjusted"]["micro_f1"] * 100, 2),
            "random_head_encoder": encoder_source,
            "scored_classes": ", ".join(c for c, a in zip(SOFT_COLUMNS, allowed, strict=True) if a).replace("soft_", ""),
            "micro_f1_without_logit_adjustment": round(trained["raw"]["micro_f1"] * 100, 2),
            "micro_f1_packed_context": round(packed["adjusted"]["micro_f1"] * 100, 2) if packed else -1.0,
            "n": len(rows),
            "mlflow_run_id": mlflow_run_link(mlflow, emotion_model["mlflow_run_id"]),
            "per_emotion_f1": dg.MetadataValue.md("| emotion | F1 |\n|---|---|\n" + "\n".join(
                f"| {c} | {'-' if v is None else f'{v * 100:.2f}'} |" for c, v in adj["per_class_f1"].items())),
        })
        return {"set": name, "n": len(rows), "trained": trained, "random_head": random, "packed_context": packed}

    return _evaluation


EVALUATION_ASSETS = [make_evaluation_asset(n) for n in EVAL_SETS]


@dg.asset(group_name=GROUP, code_version="3", kinds={"mlflow"},
          ins={"emotion_model": dg.AssetIn(), "splits": dg.AssetIn(),
               **{f"eval_{n}": dg.AssetIn(key=["evaluation", n]) for n in EVAL_SETS}})
def evaluation_report(context: dg.AssetExecutionContext, emotion_model: dict, splits: pd.DataFrame,
                      corpora: CorporaResource, data_dir: DataDirResource, mlflow: MlflowResource,
                      **results: dict) -> dict:
    """Table 2 in the paper's layout (sets as columns; Random F1, Micro F1, the eight emotions as
    rows, "-" where banned) as CSV + Markdown, a heatmap PNG and a confusion PNG per set, and the
    model card (label order, training corpora and counts, prior, metrics). The registered version
    becomes ``champion`` only when at least as good as the current one (else ``challenger``)."""
    from ser_pipeline.evaluation.model_card import model_card, training_counts
    from ser_pipeline.evaluation.report import build_table2, format_table2, table_markdown, write_report
    from ser_pipeline.model.export import read_export_meta
    from ser_pipeline.synth import is_synthetic

    present = {r["set"]: r for r in results.values() if r.get("n")}
    if not present:
        raise dg.Failure("no evaluation set has rows")
    trained = {s: r["trained"] for s, r in present.items()}
    random = {s: r["random_head"] for s, r in present.items()}
    dest = data_dir.base() / "reports" / context.run_id
    # written locally (plots need files); on object storage staged, then uploaded as one folder
    remote = storage.is_remote(dest)
    out_dir = data_dir.staging_dir() / f"report-{context.run_id}" if remote else dest
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = write_report(trained, out_dir, random=random)
    table_md = table_markdown(build_table2(trained, random))
    meta = read_export_meta(emotion_model["export_dir"])
    counts = training_counts(splits)
    card = model_card(name="ser_emotion_model", train_counts=counts, prior=meta["prior"],
                      table2_markdown=table_md, train_config=meta.get("train_config", {}),
                      mlflow_run_id=emotion_model["mlflow_run_id"],
                      synthetic_corpora=[c for c in counts["corpus"] if is_synthetic(corpora.root_for(c))])
    (out_dir / "MODEL_CARD.md").write_text(card)
    paths["model_card"] = out_dir / "MODEL_CARD.md"
    mlflow.log_artifacts(emotion_model["mlflow_run_id"], out_dir, "report")
    context.add_output_metadata(promote_registered_version(context, emotion_model, trained, mlflow))
    context.add_output_metadata({"table2": dg.MetadataValue.md(table_md),
                                 "model_card": dg.MetadataValue.md(card),
                                 **report_images(paths),
                                 "mlflow_run_id": mlflow_run_link(mlflow, emotion_model["mlflow_run_id"])})
    if remote:  # the model card last: a report folder holding it is whole
        storage.put_folder(out_dir, dest, last="MODEL_CARD.md")
        shutil.rmtree(out_dir, ignore_errors=True)
        paths = {k: dest / Path(v).name for k, v in paths.items()}
    return {"dir": str(dest), "files": {k: str(v) for k, v in paths.items()},
            "table2": format_table2(build_table2(trained, random)).to_dict()}


def promote_registered_version(context: dg.AssetExecutionContext, emotion_model: dict, trained: dict,
                               mlflow: MlflowResource) -> dict:
    """Set ``champion`` or ``challenger`` on the model version ``emotion_model`` registered (the rule:
    :func:`ser_pipeline.evaluation.promotion.decide`); log the decision and return it as metadata."""
    version = emotion_model.get("registered_version")
    if not version:
        context.log.info("emotion_model was not registered (register_model: false): no registry alias set")
        return {"registry_alias": "not registered"}
    from ser_pipeline.defs.mlflow_model import REGISTERED_NAME, promote
    from ser_pipeline.evaluation.promotion import comparison_metrics

    metrics = comparison_metrics({s: r["adjusted"] for s, r in trained.items()})
    p = promote(mlflow.client(), version, metrics)
    before = f"champion was version {p.champion_before}" if p.champion_before else "no champion before"
    context.log.info(f"{REGISTERED_NAME} version {version} -> @{p.decision.alias} ({before}): {p.decision.reason}")
    return {"registry_alias": p.decision.alias, "registry_version": str(version),
            "registry_champion_before": p.champion_before or "none", "promotion": p.decision.reason,
            "promotion_metrics": dg.MetadataValue.json({"new": p.metrics, "champion": p.champion_metrics})}


class TemporalConfig(dg.Config):
    n_windows: int = 24
    clips_per_window_min: int = 2
    clips_per_window_max: int = 4
    tolerance_s: float = 0.5  # change-point matching tolerance
    filter_frames: int = 25  # majority filter (0.5 s) before change points are taken (odd, 1 = off)
    seed: int = 0
    use_audio_cache: bool = True  # read clips from audio_cache/<corpus> where it holds them


@dg.asset(group_name=GROUP, code_version="2", kinds={"mlflow"},
          ins={"splits": dg.AssetIn(), "emotion_model": dg.AssetIn()})
def temporal_evaluation(context: dg.AssetExecutionContext, config: TemporalConfig, splits: pd.DataFrame,
                        emotion_model: dict, corpora: CorporaResource, data_dir: DataDirResource,
                        mlflow: MlflowResource) -> dict:
    """Emotion-shift windows built from held-out clips of different emotions with known boundaries:
    frame accuracy at 50 Hz and change-point precision/recall/F1 within ±tolerance, trained model
    vs random head."""
    from ser_pipeline.evaluation.temporal import build_shift_windows, evaluate_temporal, frame_predictions
    from ser_pipeline.model.export import load_model

    held_out = splits[splits["split"].isin(["validation", "test", "zero_shot"])]
    if held_out.empty:
        raise dg.Failure("no held-out rows to build temporal windows from")
    model, meta = load_model(emotion_model["export_dir"])
    roots = corpora.roots(CORPUS_NAMES)
    windows = build_shift_windows(held_out, roots, n_windows=config.n_windows,
                                  window_s=model.window_s, seed=config.seed,
                                  cache=audio_cache(data_dir, roots, config.use_audio_cache),
                                  clips_per_window=(config.clips_per_window_min, config.clips_per_window_max))
    prior = np.array(meta["prior"])
    trained = evaluate_temporal(frame_predictions(model, windows, prior=prior), windows,
                                tolerance_s=config.tolerance_s, filter_frames=config.filter_frames)
    baseline, _ = random_head_model(model, meta, context.log)
    random = evaluate_temporal(frame_predictions(baseline, windows, prior=prior), windows,
                               tolerance_s=config.tolerance_s, filter_frames=config.filter_frames)
    metrics = {f"temporal/{k}": v for k, v in trained.items()}
    metrics.update({f"temporal/random_head/{k}": v for k, v in random.items()})
    mlflow.log_metrics(emotion_model["mlflow_run_id"], metrics)
    context.add_output_metadata({
        "frame_accuracy": round(trained["frame_accuracy"] * 100, 2),
        "random_head_frame_accuracy": round(random["frame_accuracy"] * 100, 2),
        "change_point_f1": round(trained["cp_f1"] * 100, 2), "windows": len(windows),
        "tolerance_s": config.tolerance_s})
    return {"trained": trained, "random_head": random, "n_windows": len(windows)}
