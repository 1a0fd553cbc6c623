"""Studies beyond the paper (issue 19) as partitioned assets: one partition = one training run.

* ``ablation_run`` (partitions variant × seed) -> ``ablation_report``
* ``loco_run`` (partitions: each training corpus held out, plus ``none`` = the in-domain
  reference) -> ``loco_matrix``
* ``few_shot_run`` (partitions zero-shot set × k, k = 0 the zero-shot point) -> ``few_shot_curves``

Each run trains in the step (pool ``gpu``, so runs queue on the GPU while CPU steps run beside
them), scores every set with the paper's protocol, and is an MLflow child run under one parent
run per study (found or created by the tag ``ser.study=<kind>/<study>``). Its record (metrics,
per-clip correctness for the bootstrap, child run id) is a JSON file under
``<data dir>/experiments/<kind>/<study>/``; the fan-in assets read those records, write the
table, Markdown and plot, and log them to the parent run. A record is re-used when its
fingerprint (code version, run config, partition, input table) is unchanged, so re-launching a
study only trains what changed.

The data folder may be on object storage (``s3://...``): records are one PUT each (a record is
written after its run finished, so a record present is a finished run), run folders
(checkpoints, export) go to the bucket through the training loop, and a report is written in
the step's staging folder, logged to MLflow from there and uploaded with its Markdown last.
"""

import hashlib
import json
import shutil

import dagster as dg
import pandas as pd

from ser_pipeline import storage
from ser_pipeline.corpora import get_spec
from ser_pipeline.defs.cache import audio_cache
from ser_pipeline.defs.corpora import CORPUS_NAMES
from ser_pipeline.defs.evaluation import EVAL_SETS, select_set
from ser_pipeline.defs.io import atomic_write_bytes
from ser_pipeline.defs.resources import CorporaResource, DataDirResource, MlflowResource
from ser_pipeline.defs.train_config import to_train_config, train_config_class
from ser_pipeline.defs.training import GPU_OP_TAGS, DagsterMlflowCallback
from ser_pipeline.emotions import CLASSES, SOFT_COLUMNS
from ser_pipeline.experiments.variants import FACTORS, ablation_variants, variant_by_name

GROUP = "experiments"
CODE_VERSION = "1"
MAX_SEEDS = 3  # seeds 0..2 are partitions; the paper-scale study documents 3
TRAIN_CORPORA = [n for n in CORPUS_NAMES if get_spec(n).role == "train"]
ZERO_SHOT_SETS = [n for n in CORPUS_NAMES if get_spec(n).role == "zero_shot"]
FEW_SHOT_KS = ("0", "1", "5", "20")
REFERENCE = "none"  # the LOCO partition that holds nothing out

ABLATION_PARTITIONS = dg.MultiPartitionsDefinition({
    "variant": dg.StaticPartitionsDefinition([v.name for v in ablation_variants()]),
    "seed": dg.StaticPartitionsDefinition([str(s) for s in range(MAX_SEEDS)])})
LOCO_PARTITIONS = dg.StaticPartitionsDefinition([REFERENCE, *TRAIN_CORPORA])
FEW_SHOT_PARTITIONS = dg.MultiPartitionsDefinition({
    "set": dg.StaticPartitionsDefinition(ZERO_SHOT_SETS), "k": dg.StaticPartitionsDefinition(list(FEW_SHOT_KS))})
STUDY_FIELDS = {"study", "use_audio_cache", "tau"}


class StudyRunConfig(train_config_class("StudyTrainConfig")):
    """The base training config (every ``TrainConfig`` field) and which study the run belongs to."""

    study: str = "default"  # the study's name: its parent MLflow run and its records folder
    use_audio_cache: bool = True  # read clips from audio_cache/<corpus> where it exists
    tau: float = 1.0  # logit adjustment z − τ·log(prior) when scoring


class FewShotRunConfig(StudyRunConfig):
    """Fine-tuning settings (``model``/``window_s`` come from the emotion model) and the k-shot split."""

    shot_speaker_fraction: float = 0.5  # share of the set's speakers that may give shots
    selection_seed: int = 0  # seeds the shot speakers and the clips drawn


class AblationReportConfig(dg.Config):
    study: str = "default"
    factors: list[str] = []  # empty = every factor (FACTORS)
    n_seeds: int = 1  # seeds 0..n_seeds-1 of every variant must be materialized


class StudyReportConfig(dg.Config):
    study: str = "default"


# ---------------------------------------------------------------- records, fingerprints, MLflow

def records_dir(data_dir: DataDirResource, kind: str, study: str) -> storage.StoragePath:
    """``<data dir>/experiments/<kind>/<study>``: a folder, or a prefix in a bucket."""
    return data_dir.base() / "experiments" / kind / study


def write_record(path: storage.StoragePath, record: dict) -> None:
    """Write one run record whole: a rename in place locally, one PUT on object storage."""
    atomic_write_bytes(path, lambda tmp: tmp.write_text(json.dumps(record)))


def read_record(path: storage.StoragePath) -> dict:
    return json.loads(storage.read_bytes(path))


def read_records(folder: storage.StoragePath) -> list[dict]:
    """Every run record under ``folder`` (skipped partitions included, marked ``skipped``), by name."""
    return [read_record(p) for p in sorted(folder.glob("*.json"), key=lambda p: p.name)]


def fingerprint(table: pd.DataFrame, **payload) -> str:
    """Hash of what a run depends on: the label columns of its input table and ``payload``."""
    cols = [c for c in ("utterance_id", "split", "domain", "speaker", "intensity", *CLASSES, *SOFT_COLUMNS)
            if c in table]
    h = hashlib.sha256(pd.util.hash_pandas_object(table[cols], index=False).values.tobytes())
    h.update(json.dumps({"code_version": CODE_VERSION, **payload}, sort_keys=True, default=str).encode())
    return h.hexdigest()[:32]


def reusable(path: storage.StoragePath, fp: str) -> dict | None:
    """The stored record at ``path`` when it was made from the same fingerprint."""
    if path.exists():
        record = read_record(path)
        if record.get("fingerprint") == fp:
            return record
    return None


def study_parent_run(mlflow: MlflowResource, study_tag: str) -> str:
    """The study's parent MLflow run: the oldest run tagged ``ser.study=<study_tag>``, created
    (and marked finished; children and artifacts still attach) when there is none."""
    client = mlflow.client()
    found = client.search_runs([mlflow.experiment_id()], filter_string=f"tags.`ser.study` = '{study_tag}'",
                               order_by=["attributes.start_time ASC"], max_results=1)
    if found:
        return found[0].info.run_id
    run_id = mlflow.create_run(run_name=f"study {study_tag}", tags={"ser.study": study_tag, "ser.study_parent": "true"})
    mlflow.end_run(run_id)
    return run_id


def log_run_metrics(mlflow: MlflowResource, run_id: str, sets: dict) -> None:
    mlflow.log_metrics(run_id, {f"eval/{s}/{m}": r[m] for s, r in sets.items() for m in ("micro_f1", "macro_f1")})


def _materialized(context, path: storage.StoragePath, record: dict, reused: bool) -> dg.MaterializeResult:
    sets = record.get("sets", {})
    return dg.MaterializeResult(metadata={
        "record": dg.MetadataValue.path(str(path)), "reused": reused,
        "status": record.get("skipped", "trained"),
        "mlflow_child_run_id": record.get("child_run_id", ""),
        "micro_f1": dg.MetadataValue.md("| set | n | micro F1 | macro F1 |\n|---|---|---|---|\n" + "\n".join(
            f"| {s} | {r['n']} | {r['micro_f1'] * 100:.2f} | {r['macro_f1'] * 100:.2f} |" for s, r in sets.items()))})


def _run_child(context, mlflow: MlflowResource, kind: str, config: StudyRunConfig, name: str, tags: dict,
               params: dict, work) -> dict:
    """Open the child run under the study's parent, run ``work(child_run_id) -> result``, log its
    set metrics, return the result with ``child_run_id``."""
    mlflow.ensure_available(context.log)
    parent = study_parent_run(mlflow, f"{kind}/{config.study}")
    with mlflow.run(run_name=name, tags={"mlflow.parentRunId": parent, "ser.study": f"{kind}/{config.study}",
                                         "dagster_run_id": context.run_id, "dagster_partition": context.partition_key,
                                         **tags}) as child:
        mlflow.log_params(child, params)
        result = work(child)
        log_run_metrics(mlflow, child, result["sets"])
    return {**result, "child_run_id": child, "parent_run_id": parent}


def _study_asset(**kw):
    return dg.asset(group_name=GROUP, code_version=CODE_VERSION, pool="gpu", op_tags=GPU_OP_TAGS,
                    kinds={"pytorch", "mlflow"}, **kw)


# ---------------------------------------------------------------- ablations

@_study_asset(partitions_def=ABLATION_PARTITIONS)
def ablation_run(context: dg.AssetExecutionContext, config: StudyRunConfig, splits: pd.DataFrame,
                 corpora: CorporaResource, data_dir: DataDirResource, mlflow: MlflowResource) -> dg.MaterializeResult:
    """One ablation arm: the variant's labels and training config, one seed; scored on every
    Table 2 set present (same targets for every variant)."""
    from ser_pipeline.experiments.runs import train_and_score

    keys = context.partition_key.keys_by_dimension
    variant, seed = variant_by_name(keys["variant"]), int(keys["seed"])
    base = config.model_dump(exclude=STUDY_FIELDS)
    try:
        cfg = variant.train_config(base, seed)
    except (ValueError, TypeError) as exc:
        raise dg.Failure(f"ablation_run config: {exc}") from exc
    path = records_dir(data_dir, "ablation", config.study) / f"{variant.name}__s{seed}.json"
    fp = fingerprint(splits, partition=context.partition_key, train=cfg.to_dict(), tau=config.tau)
    if (record := reusable(path, fp)) is not None:
        context.log.info(f"ablation_run {context.partition_key}: unchanged, re-using {record['child_run_id']}")
        return _materialized(context, path, record, reused=True)
    roots = corpora.roots(CORPUS_NAMES)
    table = variant.label_table(splits)
    sets = {n: select_set(splits, n) for n in EVAL_SETS}  # the base labels: same targets for every arm
    run_dir = data_dir.base() / "models" / "experiments" / "ablation" / config.study / f"{variant.name}__s{seed}"

    def work(child: str) -> dict:
        return train_and_score(cfg, table, sets, roots, run_dir, tau=config.tau,
                               callback=DagsterMlflowCallback(context, mlflow, child),
                               cache=audio_cache(data_dir, roots, config.use_audio_cache))

    result = _run_child(context, mlflow, "ablation", config, f"{variant.name}-s{seed}",
                        {"ser.variant": variant.name, "ser.seed": str(seed)},
                        {**dict(variant.levels), "variant": variant.name, "seed": cfg.seed}, work)
    record = {"key": variant.name, "seed": seed, "fingerprint": fp, **result}
    write_record(path, record)
    return _materialized(context, path, record, reused=False)


@dg.asset(group_name=GROUP, code_version=CODE_VERSION, kinds={"mlflow"}, deps=[ablation_run])
def ablation_report(context: dg.AssetExecutionContext, config: AblationReportConfig, data_dir: DataDirResource,
                    mlflow: MlflowResource) -> dg.MaterializeResult:
    """The ablation table (variant × Table 2 set: micro/macro F1 mean ± std over seeds, n_runs,
    bootstrap 95 % interval, overlap with the base, child run ids) as CSV + Markdown + plot,
    logged to the study's parent run."""
    from ser_pipeline.experiments import study

    try:
        variants = ablation_variants(config.factors or None)
    except ValueError as exc:
        raise dg.Failure(f"ablation_report.factors: {exc}") from exc
    if not 1 <= config.n_seeds <= MAX_SEEDS:
        raise dg.Failure(f"ablation_report.n_seeds must be in 1..{MAX_SEEDS}, found {config.n_seeds}")
    folder = records_dir(data_dir, "ablation", config.study)
    wanted = [(v.name, s) for v in variants for s in range(config.n_seeds)]
    missing = [f"{s}|{v}" for v, s in wanted if not (folder / f"{v}__s{s}.json").exists()]
    if missing:
        raise dg.Failure(f"ablation_report: study {config.study!r} lacks the ablation_run partitions "
                         f"{', '.join(missing)} (seed|variant); materialize them first")
    runs = [read_record(folder / f"{v}__s{s}.json") for v, s in wanted]
    return _report(context, mlflow, data_dir, "ablation", config.study, runs, study.comparison_table,
                   study.comparison_plot, markdown=study.comparison_markdown)


def _report(context, mlflow: MlflowResource, data_dir: DataDirResource, kind: str, study_name: str, runs: list[dict],
            build, plot, markdown=None) -> dg.MaterializeResult:
    """Table + Markdown + plot under ``<data dir>/reports/experiments/<kind>/<study>``, logged to
    the parent run under ``<kind>/``. On object storage the files are written in the step's
    staging folder, logged from there and uploaded with the Markdown last (its commit marker)."""
    from ser_pipeline.experiments.study import write_table

    table = build(runs)
    dest = data_dir.base() / "reports" / "experiments" / kind / study_name
    remote = storage.is_remote(dest)
    out = data_dir.staging_dir() / f"{kind}-{study_name}-{context.run_id}" if remote else dest
    md = markdown(table) if markdown else None
    paths = write_table(table, out, kind, md)
    plot(table, out / f"{kind}.png")
    parent = runs[0]["parent_run_id"]
    mlflow.log_artifacts(parent, out, kind)
    markdown_text = paths["markdown"].read_text()
    if remote:
        storage.put_folder(out, dest, last=paths["markdown"].name)
        shutil.rmtree(out, ignore_errors=True)
    context.log.info(f"{kind} study {study_name!r}: {len(runs)} runs -> {dest / f'{kind}.csv'}")
    return dg.MaterializeResult(metadata={
        "table": dg.MetadataValue.md(markdown_text), "csv": dg.MetadataValue.path(str(dest / f"{kind}.csv")),
        "plot": dg.MetadataValue.path(str(dest / f"{kind}.png")), "n_runs": len(runs),
        "mlflow_parent_run_id": parent})


# ---------------------------------------------------------------- leave one corpus out

@_study_asset(partitions_def=LOCO_PARTITIONS)
def loco_run(context: dg.AssetExecutionContext, config: StudyRunConfig, splits: pd.DataFrame,
             corpora: CorporaResource, data_dir: DataDirResource, mlflow: MlflowResource) -> dg.MaterializeResult:
    """Train without one training corpus (its rows become ``held_out``; ``none`` holds nothing out)
    on the ``splits`` asset's own split, then score the held-out corpus (all its rows, as a
    zero-shot set), each training corpus's validation rows (the same rows in every partition) and
    the standing Table 2 sets."""
    from ser_pipeline.experiments.runs import train_and_score

    held = context.partition_key
    path = records_dir(data_dir, "loco", config.study) / f"{held}.json"
    present = sorted(splits.loc[splits["split"].isin(["train", "validation"]), "corpus"].unique())
    if held != REFERENCE and held not in present:
        record = {"key": held, "skipped": f"{held} has no training rows in splits (absent or not a training corpus)"}
        context.log.warning(f"loco_run {held}: {record['skipped']}")
        write_record(path, record)
        return _materialized(context, path, record, reused=False)
    cfg = to_train_config(config, STUDY_FIELDS)
    fp = fingerprint(splits, partition=held, train=cfg.to_dict(), tau=config.tau)
    if (record := reusable(path, fp)) is not None:
        context.log.info(f"loco_run {held}: unchanged, re-using {record['child_run_id']}")
        return _materialized(context, path, record, reused=True)
    table = splits.copy()
    if held != REFERENCE:
        table.loc[(table["corpus"] == held) & table["split"].isin(["train", "validation"]), "split"] = "held_out"
    sets = {n: select_set(splits, n) for n in EVAL_SETS if n != "validation"}
    sets.update({f"val:{c}": splits[(splits["corpus"] == c) & (splits["split"] == "validation")] for c in present})
    if held != REFERENCE:
        sets[f"all:{held}"] = splits[splits["corpus"] == held]
    roots = corpora.roots(CORPUS_NAMES)
    run_dir = data_dir.base() / "models" / "experiments" / "loco" / config.study / held

    def work(child: str) -> dict:
        return train_and_score(cfg, table, sets, roots, run_dir, tau=config.tau,
                               callback=DagsterMlflowCallback(context, mlflow, child),
                               cache=audio_cache(data_dir, roots, config.use_audio_cache))

    result = _run_child(context, mlflow, "loco", config, f"without-{held}", {"ser.held_out": held},
                        {"held_out": held, "train_corpora": ",".join(c for c in present if c != held)}, work)
    record = {"key": held, "fingerprint": fp, **result}
    write_record(path, record)
    return _materialized(context, path, record, reused=False)


@dg.asset(group_name=GROUP, code_version=CODE_VERSION, kinds={"mlflow"}, deps=[loco_run])
def loco_matrix(context: dg.AssetExecutionContext, config: StudyReportConfig, data_dir: DataDirResource,
                mlflow: MlflowResource) -> dg.MaterializeResult:
    """Held-out corpus × metric (held-out F1 with its interval, in-domain reference vs held-out on
    the same validation rows, standing zero-shot sets, child run id) as CSV + Markdown + heatmap."""
    from ser_pipeline.experiments import study

    runs = [r for r in read_records(records_dir(data_dir, "loco", config.study)) if "skipped" not in r]
    if not runs:
        raise dg.Failure(f"loco_matrix: study {config.study!r} has no loco_run partition yet; materialize some first")
    return _report(context, mlflow, data_dir, "loco", config.study, runs,
                   lambda rs: study.loco_matrix(rs, reference=REFERENCE), study.loco_heatmap)


# ---------------------------------------------------------------- few-shot

@_study_asset(partitions_def=FEW_SHOT_PARTITIONS, ins={"splits": dg.AssetIn(), "emotion_model": dg.AssetIn()})
def few_shot_run(context: dg.AssetExecutionContext, config: FewShotRunConfig, splits: pd.DataFrame,
                 emotion_model: dict, corpora: CorporaResource, data_dir: DataDirResource,
                 mlflow: MlflowResource) -> dg.MaterializeResult:
    """Fine-tune the trained emotion model on k clips per class of a zero-shot set (shot speakers
    only) and score it on the set's test speakers; k = 0 scores the model as it is."""
    from ser_pipeline.experiments.few_shot import select_k_shot, shot_speakers, shots_per_class, test_part
    from ser_pipeline.experiments.runs import finetune_and_score

    keys = context.partition_key.keys_by_dimension
    name, k = keys["set"], int(keys["k"])
    path = records_dir(data_dir, "few_shot", config.study) / f"{name}__k{k}.json"
    rows = select_set(splits, name)
    if rows["speaker"].nunique() < 2:
        record = {"key": name, "skipped": f"{name}: {rows['speaker'].nunique()} speakers in splits (needs >= 2)"}
        context.log.warning(f"few_shot_run: {record['skipped']}")
        write_record(path, record)
        return _materialized(context, path, record, reused=False)
    cfg = to_train_config(config, STUDY_FIELDS | {"shot_speaker_fraction", "selection_seed"})
    shots = shot_speakers(rows, fraction=config.shot_speaker_fraction, seed=config.selection_seed)
    k_shot, test = select_k_shot(rows, k, shots, seed=config.selection_seed), test_part(rows, shots)
    fp = fingerprint(splits, partition=context.partition_key, train=cfg.to_dict(), tau=config.tau,
                     model=emotion_model["export_dir"], shots=shots, selection_seed=config.selection_seed)
    if (record := reusable(path, fp)) is not None:
        context.log.info(f"few_shot_run {context.partition_key}: unchanged, re-using {record['child_run_id']}")
        return _materialized(context, path, record, reused=True)
    roots = corpora.roots(CORPUS_NAMES)
    run_dir = data_dir.base() / "models" / "experiments" / "few_shot" / config.study / f"{name}__k{k}"

    def work(child: str) -> dict:
        return finetune_and_score(emotion_model["export_dir"], cfg, k_shot, name, test, roots, run_dir,
                                  tau=config.tau, callback=DagsterMlflowCallback(context, mlflow, child),
                                  cache=audio_cache(data_dir, roots, config.use_audio_cache))

    per_class = shots_per_class(k_shot)
    result = _run_child(context, mlflow, "few_shot", config, f"{name}-k{k}",
                        {"ser.set": name, "ser.k": str(k), "ser.base_model_run": emotion_model["mlflow_run_id"]},
                        {"set": name, "k": k, "n_shots": len(k_shot), "shot_speakers": ",".join(shots),
                         "shots_per_class": json.dumps(per_class)}, work)
    record = {"key": f"{name}__k{k}", "set": name, "k": k, "n_shots": len(k_shot), "shots_per_class": per_class,
              "fingerprint": fp, **result}
    write_record(path, record)
    return _materialized(context, path, record, reused=False)


@dg.asset(group_name=GROUP, code_version=CODE_VERSION, kinds={"mlflow"}, deps=[few_shot_run])
def few_shot_curves(context: dg.AssetExecutionContext, config: StudyReportConfig, data_dir: DataDirResource,
                    mlflow: MlflowResource) -> dg.MaterializeResult:
    """Micro/macro F1 against k per zero-shot set (k = 0: the zero-shot point) as CSV + Markdown + plot."""
    from ser_pipeline.experiments import study

    runs = [r for r in read_records(records_dir(data_dir, "few_shot", config.study)) if "skipped" not in r]
    if not runs:
        raise dg.Failure(f"few_shot_curves: study {config.study!r} has no few_shot_run partition yet")
    return _report(context, mlflow, data_dir, "few_shot", config.study, runs, study.few_shot_table,
                   study.few_shot_plot)


EXPERIMENT_ASSETS = [ablation_run, ablation_report, loco_run, loco_matrix, few_shot_run, few_shot_curves]

ablation_study = dg.define_asset_job(
    "ablation_study", selection=[ablation_run], partitions_def=ABLATION_PARTITIONS,
    description="One ablation arm per partition (variant|seed); backfill the arms, then ablation_report.")
loco_study = dg.define_asset_job(
    "loco_study", selection=[loco_run], partitions_def=LOCO_PARTITIONS,
    description="Train without one corpus per partition ('none' = reference); then loco_matrix.")
few_shot_study = dg.define_asset_job(
    "few_shot_study", selection=[few_shot_run], partitions_def=FEW_SHOT_PARTITIONS,
    description="Fine-tune on k shots per class of a zero-shot set per partition (k|set); then few_shot_curves.")
EXPERIMENT_JOBS = [ablation_study, loco_study, few_shot_study]
__all__ = ["EXPERIMENT_ASSETS", "EXPERIMENT_JOBS", "FACTORS"]
