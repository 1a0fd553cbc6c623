"""Label assets: per-corpus mean intensity, neutral smoothing + domains, splits + prior."""


import dagster as dg
import pandas as pd

from ser_pipeline.corpora import get_spec
from ser_pipeline.defs.automation import DATA_CONDITION
from ser_pipeline.defs.corpora import LABEL_CORPORA, corpus_key
from ser_pipeline.defs.summaries import histogram_markdown, table_summary
from ser_pipeline.emotions import CLASSES, SOFT_COLUMNS
from ser_pipeline.labels.harmonize import add_soft_labels, corpus_mean_intensity
from ser_pipeline.labels.splits import assign_splits, training_meta

GROUP = "labels"
_INS = {name: dg.AssetIn(key=corpus_key(name)) for name in LABEL_CORPORA}


@dg.asset(ins=_INS, group_name=GROUP, code_version="1", kinds={"pandas"},
          automation_condition=DATA_CONDITION)
def label_intensity(context: dg.AssetExecutionContext, **tables: pd.DataFrame) -> pd.DataFrame:
    """Per-corpus mean intensity Ē (paper §2.2): one row per corpus present."""
    rows = [{"corpus": name, "n": len(t), "mean_intensity": corpus_mean_intensity(t)}
            for name, t in sorted(tables.items()) if len(t)]
    df = pd.DataFrame(rows, columns=["corpus", "n", "mean_intensity"])
    context.add_output_metadata({
        "corpora_present": len(df),
        "mean_intensity": dg.MetadataValue.md(df.to_markdown(index=False) if len(df) else "(no corpus present)"),
    })
    return df


class SmoothingConfig(dg.Config):
    """Neutral smoothing variant (docs/labels.md): ``neutral`` (default) or ``paper``."""

    variant: str = "neutral"


@dg.asset(ins={**_INS, "label_intensity": dg.AssetIn()}, group_name=GROUP, code_version="1", kinds={"parquet"},
          automation_condition=DATA_CONDITION)
def smoothed_labels(context: dg.AssetExecutionContext, config: SmoothingConfig, label_intensity: pd.DataFrame,
                    **tables: pd.DataFrame) -> pd.DataFrame:
    """All corpora in one table with smoothed soft labels (``soft_*``), ``hard_label`` and ``domain``."""
    if config.variant not in ("neutral", "paper"):
        raise dg.Failure(f"smoothed_labels.variant must be 'neutral' or 'paper', not {config.variant!r}")
    mean_e = dict(zip(label_intensity["corpus"], label_intensity["mean_intensity"], strict=True))
    parts = [add_soft_labels(t, mean_e[name], config.variant) for name, t in sorted(tables.items()) if len(t)]
    if not parts:
        raise dg.Failure("no corpus table has rows: check SER_CORPORA_ROOT / the corpora resource")
    df = pd.concat(parts, ignore_index=True).sort_values("utterance_id", kind="stable").reset_index(drop=True)
    context.add_output_metadata({**table_summary(df, SOFT_COLUMNS), "variant": config.variant,
                                 "domains": int(df["domain"].nunique())})
    return df


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
