"""Label assets: per-corpus mean intensity, neutral smoothing + domains, splits + prior."""


import dagster as dg
import pandas as pd

from ser_pipeline.corpora import get_spec
from ser_pipeline.defs.automation import DATA_CONDITION, GATHER_CONDITION
from ser_pipeline.corpora.validate import validate_manifest
from ser_pipeline.defs.corpora import LABEL_CORPORA, corpus_key
from ser_pipeline.defs.io import read_stored_table
from ser_pipeline.defs.resources import DataDirResource
from ser_pipeline.defs.summaries import histogram_markdown, table_summary
from ser_pipeline.emotions import CLASSES, SOFT_COLUMNS
from ser_pipeline.labels.harmonize import add_soft_labels, corpus_mean_intensity
from ser_pipeline.labels.splits import assign_splits, training_meta

GROUP = "labels"
#: The corpus tables arrive as Nothing-typed deps fanned into one op input, not as one input
#: each: Dagster skips a step when *any* upstream output it reads was not produced, and an absent
#: corpus produces none (so its stored table is never replaced); a fan-in is skipped only when
#: *all* its sources are missing. The op then reads the stored tables (empty if never stored).
_CORPUS_DEPS = {name: dg.AssetIn(key=corpus_key(name), dagster_type=dg.Nothing) for name in LABEL_CORPORA}
ABSENT_HINT = "set SER_CORPORA_ROOT or corpora.overrides.<name>"


def label_corpus_tables(data_dir: DataDirResource) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """The stored tables of the label corpora that have rows, and the names of those without.

    Raises:
        dagster.Failure: a stored table fails ``validate_manifest`` (the check ``table_valid``
            reports it too; here it stops the table from flowing on).
    """
    tables, absent = {}, []
    for name in LABEL_CORPORA:
        table = read_stored_table(data_dir, corpus_key(name))
        if table.empty:
            absent.append(name)
            continue
        problems = validate_manifest(table)
        if problems:
            raise dg.Failure(f"corpora/{name}: the stored table is invalid (check table_valid):\n"
                             + "\n".join(problems))
        tables[name] = table
    return tables, sorted(absent)


@dg.op(ins={"corpora": dg.In(dg.Nothing)}, out=dg.Out(pd.DataFrame))
def compute_label_intensity(context: dg.OpExecutionContext, data_dir: DataDirResource) -> pd.DataFrame:
    tables, absent = label_corpus_tables(data_dir)
    if absent:  # one line for all of them, not a warning per corpus
        context.log.info(f"absent corpora ({len(absent)}): {', '.join(absent)} — {ABSENT_HINT}")
    rows = [{"corpus": name, "n": len(t), "mean_intensity": corpus_mean_intensity(t)}
            for name, t in sorted(tables.items())]
    df = pd.DataFrame(rows, columns=["corpus", "n", "mean_intensity"])
    context.add_output_metadata({
        "corpora_present": len(df),
        "absent_corpora": dg.MetadataValue.json(absent),
        "mean_intensity": dg.MetadataValue.md(df.to_markdown(index=False) if len(df) else "(no corpus present)"),
    })
    return df


@dg.graph_asset(ins=_CORPUS_DEPS, group_name=GROUP, code_version="2", kinds={"pandas"},
                automation_condition=GATHER_CONDITION)
def label_intensity(**corpora):
    """Per-corpus mean intensity Ē (paper §2.2): one row per corpus present."""
    return compute_label_intensity(corpora=list(corpora.values()))


class SmoothingConfig(dg.Config):
    """Neutral smoothing variant (docs/labels.md): ``neutral`` (default) or ``paper``."""

    variant: str = "neutral"


@dg.op(ins={"label_intensity": dg.In(pd.DataFrame), "corpora": dg.In(dg.Nothing)}, out=dg.Out(pd.DataFrame))
def smooth_labels(context: dg.OpExecutionContext, config: SmoothingConfig, label_intensity: pd.DataFrame,
                  data_dir: DataDirResource) -> pd.DataFrame:
    if config.variant not in ("neutral", "paper"):
        raise dg.Failure(f"smoothed_labels.variant must be 'neutral' or 'paper', not {config.variant!r}")
    tables, _ = label_corpus_tables(data_dir)
    mean_e = dict(zip(label_intensity["corpus"], label_intensity["mean_intensity"], strict=True))
    parts = [add_soft_labels(t, mean_e[name], config.variant) for name, t in sorted(tables.items())]
    if not parts:
        raise dg.Failure(f"no corpus table has rows: {ABSENT_HINT}")
    df = pd.concat(parts, ignore_index=True).sort_values("utterance_id", kind="stable").reset_index(drop=True)
    context.add_output_metadata({**table_summary(df, SOFT_COLUMNS), "variant": config.variant,
                                 "domains": int(df["domain"].nunique())})
    return df


@dg.config_mapping
def _smoothing_config(config: SmoothingConfig) -> dict:
    """``ops: smoothed_labels: config: {variant: ...}`` reaches the op inside the graph asset."""
    return {"smooth_labels": {"config": {"variant": config.variant}}}


@dg.graph_asset(ins={**_CORPUS_DEPS, "label_intensity": dg.AssetIn()}, group_name=GROUP, code_version="2",
                kinds={"parquet"}, automation_condition=GATHER_CONDITION, config=_smoothing_config)
def smoothed_labels(label_intensity, **corpora):
    """All corpora in one table with smoothed soft labels (``soft_*``), ``hard_label`` and ``domain``."""
    return smooth_labels(label_intensity=label_intensity, corpora=list(corpora.values()))


class SplitConfig(dg.Config):
    """95/5 split (paper §2.1) with a seed; ``by: speaker`` for a speaker-disjoint validation."""

    validation_fraction: float = 0.05
    seed: int = 0
    by: str = "utterance"
    train_corpora: list[str] = []  # empty = every corpus with role "train"


@dg.asset(group_name=GROUP, code_version="1", kinds={"parquet"},
          automation_condition=DATA_CONDITION)
def splits(context: dg.AssetExecutionContext, config: SplitConfig,
           smoothed_labels: pd.DataFrame) -> dg.Output[pd.DataFrame]:
    """``split`` per row (train / validation / test = IEMOCAP Session 4 / zero_shot / finetune).
    The domain vocabulary and the training class prior are derived from this table
    (``labels.splits.training_meta``) by whoever needs them; they are shown here as metadata."""
    roles = {c: get_spec(c).role for c in smoothed_labels["corpus"].unique()}
    try:
        split = assign_splits(smoothed_labels, roles, validation_fraction=config.validation_fraction,
                              seed=config.seed, by=config.by, train_corpora=config.train_corpora or None)
    except ValueError as exc:
        raise dg.Failure(f"splits config: {exc}") from exc
    df = smoothed_labels.assign(split=split)
    try:
        meta = training_meta(df)
    except ValueError as exc:
        raise dg.Failure(str(exc)) from exc
    counts = df.groupby(["split", "corpus"]).size().unstack(fill_value=0)
    version = training_data_version(df)
    return dg.Output(df, data_version=dg.DataVersion(version), metadata={
        "train_data_version": version,
        "dagster/row_count": len(df),
        "split_counts": dg.MetadataValue.md(counts.to_markdown()),
        "n_domains": len(meta.domain_vocab),
        "training_prior": dg.MetadataValue.md(histogram_markdown({c: round(p, 4) for c, p in zip(CLASSES, meta.prior, strict=True)}).replace("count", "prior")),
    })


def training_data_version(df: pd.DataFrame) -> str:
    """Hash of what training sees: the train/validation rows' ids, soft labels and domains.

    The training sensor retrains once per new value; re-materializing unchanged data keeps it.
    """
    import hashlib

    cols = ["utterance_id", "split", "domain", *SOFT_COLUMNS]
    part = df.loc[df["split"].isin(["train", "validation"]), cols].sort_values("utterance_id")
    h = hashlib.sha256(pd.util.hash_pandas_object(part.round({c: 9 for c in SOFT_COLUMNS}), index=False).values.tobytes())
    return h.hexdigest()[:32]
