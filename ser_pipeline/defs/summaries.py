"""Metadata a user sees in the Dagster UI for a table: counts, class histogram, speakers."""


import dagster as dg
import numpy as np
import pandas as pd

from ser_pipeline.emotions import CLASSES


def class_histogram(df: pd.DataFrame, columns=CLASSES) -> dict[str, int]:
    """Count of the hard label (argmax of the given score columns) per class."""
    if df.empty:
        return dict.fromkeys(CLASSES, 0)
    hard = df[list(columns)].to_numpy().argmax(axis=1)
    counts = np.bincount(hard, minlength=len(CLASSES))
    return {c: int(n) for c, n in zip(CLASSES, counts, strict=True)}


def histogram_markdown(hist: dict[str, int]) -> str:
    rows = "\n".join(f"| {c} | {n} |" for c, n in hist.items())
    return f"| class | count |\n|---|---|\n{rows}"


def table_summary(df: pd.DataFrame, columns=CLASSES) -> dict:
    """Row count, hours, speakers, languages, sample rates and the class histogram."""
    hist = class_histogram(df, columns)
    return {
        "dagster/row_count": len(df),
        "hours": round(float(df["duration_s"].sum()) / 3600, 4) if len(df) else 0.0,
        "speakers": int(df["speaker"].nunique()) if len(df) else 0,
        "languages": ", ".join(sorted(df["language"].dropna().unique())) if len(df) else "",
        "sample_rates": ", ".join(str(s) for s in sorted(df["sample_rate"].unique())) if len(df) else "",
        "class_histogram": dg.MetadataValue.md(histogram_markdown(hist)),
    }


def stats_summary(stats) -> dict:
    """:func:`table_summary` from a scan's running totals
    (:class:`ser_pipeline.corpora.sink.ManifestStats`), for a table that was never in memory."""
    return {
        "dagster/row_count": stats.rows,
        "hours": round(stats.seconds / 3600, 4),
        "speakers": len(stats.speakers),
        "languages": ", ".join(sorted(stats.languages)),
        "sample_rates": ", ".join(str(s) for s in sorted(stats.sample_rates)),
        "class_histogram": dg.MetadataValue.md(histogram_markdown(stats.class_histogram())),
    }
