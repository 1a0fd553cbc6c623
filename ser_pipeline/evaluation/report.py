"""Table 2 of the paper from per-set results: CSV, Markdown, a heatmap PNG and confusion PNGs.

Input is what :func:`ser_pipeline.evaluation.metrics.evaluate_predictions` returns for each set
(``{set_name: result}``), plus optionally the random-head baseline per set. Layout (paper §3.1,
Table 2): one column per evaluation set in the order of :data:`SET_ORDER`, rows "Random F1",
"Micro F1", then the eight emotions alphabetically; values are percentages with 2 decimals and
"-" where a class is banned in that set (or a value is missing).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ser_pipeline.emotions import CLASSES  # noqa: E402

#: Column order of Table 2 (sets absent from the results are skipped).
SET_ORDER: tuple[str, ...] = ("validation", "iemocap_s4", "emodb", "masc", "urdu", "aesdd")
#: Column headers; zero-shot sets carry the paper's "Z-" prefix.
DISPLAY_NAMES: dict[str, str] = {
    "validation": "Validation",
    "iemocap_s4": "IEMOCAP S4",
    "emodb": "Z-EmoDB",
    "masc": "Z-MASC",
    "urdu": "Z-URDU",
    "aesdd": "Z-AESDD",
}
#: Emotion rows, alphabetical as in the paper.
EMOTION_ROWS: tuple[str, ...] = tuple(sorted(CLASSES))
ROWS: tuple[str, ...] = ("Random F1", "Micro F1", *(c.capitalize() for c in EMOTION_ROWS))
MISSING = "-"


def _ordered_sets(names) -> list[str]:
    names = list(names)
    return [s for s in SET_ORDER if s in names] + sorted(s for s in names if s not in SET_ORDER)


def _random_micro(value) -> float:
    """The random-head baseline: a micro F1 fraction, or an ``evaluate_predictions`` result, whose
    *unadjusted* micro F1 is Table 2's "Random F1" (logit adjustment of a near-constant head sends
    every clip to the rarest class; the adjusted figure is logged beside it)."""
    if value is None:
        return np.nan
    if isinstance(value, Mapping):
        return float(value["raw"]["micro_f1"] if "raw" in value else value["micro_f1"])
    return float(value)


def build_table2(results: Mapping[str, dict], random: Mapping[str, object] | None = None, *,
                 variant: str = "adjusted") -> pd.DataFrame:
    """Table 2 as numbers: percent, float64, NaN where banned or missing.

    Args:
        results: set name -> :func:`evaluate_predictions` result.
        random: set name -> random-head micro F1 (fraction in [0, 1]) or its full result
            (its unadjusted ``raw`` micro F1 is used). (Default: None, the row shows "-")
        variant: ``"adjusted"`` (with logit adjustment, the paper's numbers) or ``"raw"``.
    Returns:
        DataFrame, index :data:`ROWS`, columns the display names of the sets present.
    """
    if variant not in ("adjusted", "raw"):
        raise ValueError(f"variant must be 'adjusted' or 'raw', not {variant!r}")
    random = random or {}
    cols = {}
    for s in _ordered_sets(results):
        scores = results[s][variant]
        values = [100.0 * _random_micro(random.get(s)), 100.0 * scores["micro_f1"]]
        for c in EMOTION_ROWS:
            f1 = scores["per_class_f1"].get(c)
            values.append(np.nan if f1 is None else 100.0 * f1)
        cols[DISPLAY_NAMES.get(s, s)] = values
    return pd.DataFrame(cols, index=list(ROWS), dtype=np.float64)


def format_table2(table: pd.DataFrame) -> pd.DataFrame:
    """Numbers -> strings with 2 decimals; NaN -> "-"."""
    return table.map(lambda v: MISSING if pd.isna(v) else f"{v:.2f}")


def write_table_csv(table: pd.DataFrame, path: str | Path) -> Path:
    """Write the formatted table as CSV (first column = row name). Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    format_table2(table).to_csv(path, index_label="")
    return path


def table_markdown(table: pd.DataFrame) -> str:
    """The formatted table as a GitHub Markdown table (no extra dependency)."""
    t = format_table2(table)
    lines = ["| | " + " | ".join(t.columns) + " |", "|---|" + "---:|" * len(t.columns)]
    lines += [f"| {idx} | " + " | ".join(row) + " |" for idx, row in zip(t.index, t.to_numpy(), strict=True)]
    return "\n".join(lines) + "\n"


def write_table_markdown(table: pd.DataFrame, path: str | Path) -> Path:
    """Write :func:`table_markdown` to ``path``. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(table_markdown(table))
    return path


def plot_table_heatmap(table: pd.DataFrame, path: str | Path, title: str = "Table 2: F1 (%)") -> Path:
    """Heatmap PNG of the numeric table (0–100 %), banned cells grey with "-". Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.ma.masked_invalid(table.to_numpy(dtype=np.float64))
    fig, ax = plt.subplots(figsize=(1.3 * max(len(table.columns), 2) + 2, 0.45 * len(table) + 1.5))
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="lightgrey")
    im = ax.imshow(data, cmap=cmap, vmin=0, vmax=100, aspect="auto")
    ax.set_xticks(range(len(table.columns)), table.columns, rotation=30, ha="right")
    ax.set_yticks(range(len(table.index)), table.index)
    for i in range(data.shape[0]):
        for j in range(data.shape[1]):
            v = table.iat[i, j]
            ax.text(j, i, MISSING if pd.isna(v) else f"{v:.2f}", ha="center", va="center",
                    color="black" if pd.isna(v) or v > 60 else "white", fontsize=8)
    fig.colorbar(im, ax=ax, label="%")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_confusion(result: dict, path: str | Path, *, title: str = "", variant: str = "adjusted") -> Path:
    """Confusion-matrix PNG of one set (rows = true, columns = predicted), scored classes only.

    Cells show counts; colour is the row-normalised fraction (recall along the diagonal).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cm = np.asarray(result[variant]["confusion"], dtype=np.int64)
    names = list(CLASSES) if cm.shape[0] == len(CLASSES) else [str(i) for i in range(cm.shape[0])]
    keep = [names.index(c) for c in result.get("allowed", names)]
    cm = cm[np.ix_(keep, keep)]
    labels = [names[i] for i in keep]
    rows = cm.sum(axis=1, keepdims=True)
    frac = np.divide(cm, rows, out=np.zeros(cm.shape, dtype=np.float64), where=rows > 0)
    fig, ax = plt.subplots(figsize=(0.8 * len(keep) + 2.5, 0.7 * len(keep) + 2))
    ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(keep)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(keep)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(keep)):
        for j in range(len(keep)):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center",
                    color="white" if frac[i, j] > 0.5 else "black", fontsize=8)
    ax.set_title(title or f"confusion ({variant})")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_report(results: Mapping[str, dict], out_dir: str | Path, random: Mapping[str, object] | None = None,
                 *, variant: str = "adjusted", stem: str = "table2") -> dict[str, Path]:
    """Write the whole report into ``out_dir``.

    Returns:
        ``{"csv", "markdown", "heatmap"}`` -> paths of ``<stem>.csv``, ``<stem>.md``,
        ``<stem>.png``, plus ``"confusion/<set>"`` -> ``confusion_<set>.png`` for each set.
    """
    out_dir = Path(out_dir)
    table = build_table2(results, random, variant=variant)
    paths = {
        "csv": write_table_csv(table, out_dir / f"{stem}.csv"),
        "markdown": write_table_markdown(table, out_dir / f"{stem}.md"),
        "heatmap": plot_table_heatmap(table, out_dir / f"{stem}.png"),
    }
    for s in _ordered_sets(results):
        paths[f"confusion/{s}"] = plot_confusion(results[s], out_dir / f"confusion_{s}.png",
                                                 title=f"{DISPLAY_NAMES.get(s, s)} ({variant})", variant=variant)
    return paths
