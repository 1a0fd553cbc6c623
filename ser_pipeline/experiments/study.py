"""Many runs -> one study's tables and plots (CSV + Markdown + PNG).

A *run record* is what one partition of a study leaves (``ser_pipeline.defs.experiments``)::

    {"key": "augment-off", "seed": 0, "child_run_id": "<MLflow run id>",
     "sets": {"emodb": {"n": 40, "micro_f1": 0.41, "macro_f1": 0.33, "correct": [0, 1, ...]}, ...}}

Every table keeps the MLflow child run id(s) behind each row, so each number can be traced to the
run that produced it. Metrics are fractions in [0, 1] in the tables, percentages in Markdown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ser_pipeline.evaluation.report import _ordered_sets  # noqa: E402
from ser_pipeline.experiments.stats import bootstrap_micro_f1, intervals_overlap, seed_summary  # noqa: E402

BASE = "base"


def _pct(x: float) -> str:
    return "-" if x is None or not np.isfinite(x) else f"{x * 100:.1f}"


def comparison_table(runs: Sequence[Mapping], *, base: str = BASE, n_boot: int = 1000,
                     seed: int = 0) -> pd.DataFrame:
    """Ablation table: one row per variant (``key``, in first-seen order), per set the micro and
    macro F1 mean and std over seeds, ``n_runs``, the bootstrap 95 % interval of micro F1 and
    ``overlaps_base`` (the interval overlaps the base's: the difference is not resolved), plus
    ``child_run_ids`` (";"-joined, seed order). Column names are ``<set>.<stat>``."""
    keys = list(dict.fromkeys(r["key"] for r in runs))
    sets = _ordered_sets({s for r in runs for s in r["sets"]})
    cells: dict[tuple[str, str], dict] = {}
    for key in keys:
        mine = sorted((r for r in runs if r["key"] == key), key=lambda r: r.get("seed", 0))
        for s in sets:
            got = [r["sets"][s] for r in mine if s in r["sets"]]
            if not got:
                continue
            micro, macro = seed_summary([g["micro_f1"] for g in got]), seed_summary([g["macro_f1"] for g in got])
            lengths = {len(g["correct"]) for g in got}
            if len(lengths) != 1:
                raise ValueError(f"{key}/{s}: runs scored different numbers of clips {sorted(lengths)}")
            ci = bootstrap_micro_f1(np.array([g["correct"] for g in got]), n=n_boot, seed=seed)
            cells[key, s] = {"micro_mean": micro.mean, "micro_std": micro.std, "macro_mean": macro.mean,
                             "macro_std": macro.std, "n_runs": micro.n_runs, "n_clips": lengths.pop(),
                             "ci_low": ci[0], "ci_high": ci[1]}
    rows = []
    for key in keys:
        row: dict = {"variant": key, "child_run_ids": ";".join(
            r["child_run_id"] for r in sorted((r for r in runs if r["key"] == key), key=lambda r: r.get("seed", 0)))}
        for s in sets:
            cell = cells.get((key, s))
            if cell is None:
                continue
            ref = cells.get((base, s))
            overlap = intervals_overlap((cell["ci_low"], cell["ci_high"]), (ref["ci_low"], ref["ci_high"])) \
                if ref is not None and key != base else None
            row.update({f"{s}.{k}": v for k, v in cell.items()})
            row[f"{s}.overlaps_base"] = overlap
        rows.append(row)
    return pd.DataFrame(rows)


def table_sets(table: pd.DataFrame) -> list[str]:
    """The evaluation sets of a comparison table, in Table 2 order."""
    return _ordered_sets({c.split(".", 1)[0] for c in table.columns if c.endswith(".micro_mean")})


def comparison_markdown(table: pd.DataFrame) -> str:
    """Rows variant, one column per set: ``micro ± std / macro ± std [CI] n=`` (percent);
    ``≈`` marks an interval that overlaps the base's."""
    sets = table_sets(table)
    head = "| variant | " + " | ".join(sets) + " |\n|---|" + "---|" * len(sets)
    lines = [head]
    for _, r in table.iterrows():
        cells = []
        for s in sets:
            if pd.isna(r.get(f"{s}.micro_mean")):
                cells.append("-")
                continue
            mark = " ≈" if r.get(f"{s}.overlaps_base") is True else ""
            cells.append(f"{_pct(r[f'{s}.micro_mean'])} ± {_pct(r[f'{s}.micro_std'])} / "
                         f"{_pct(r[f'{s}.macro_mean'])} ± {_pct(r[f'{s}.macro_std'])} "
                         f"[{_pct(r[f'{s}.ci_low'])}, {_pct(r[f'{s}.ci_high'])}] n={int(r[f'{s}.n_runs'])}{mark}")
        lines.append(f"| {r['variant']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + ("\n\nCells: micro F1 ± std / macro F1 ± std over n runs (seeds), [bootstrap 95 % "
                               "interval of micro F1 over clips]; ≈ = interval overlaps the base's "
                               "(difference not resolved).\n")


def comparison_plot(table: pd.DataFrame, path: str | Path) -> Path:
    """Grouped bars: micro F1 per set (groups) and variant (bars), bootstrap intervals as error bars."""
    sets, variants = table_sets(table), list(table["variant"])
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(sets) * max(1, len(variants)) / 2), 4))
    width = 0.8 / max(1, len(variants))
    for i, (_, r) in enumerate(table.iterrows()):
        x = np.arange(len(sets)) + i * width
        y = np.array([r.get(f"{s}.micro_mean", np.nan) for s in sets], dtype=float)
        lo = np.array([r.get(f"{s}.ci_low", np.nan) for s in sets], dtype=float)
        hi = np.array([r.get(f"{s}.ci_high", np.nan) for s in sets], dtype=float)
        ax.bar(x, y * 100, width, yerr=np.nan_to_num([(y - lo) * 100, (hi - y) * 100]), capsize=2, label=r["variant"])
    ax.set_xticks(np.arange(len(sets)) + width * (len(variants) - 1) / 2, sets)
    ax.set_ylabel("micro F1 (%)")
    ax.legend(fontsize="small", ncol=2)
    fig.tight_layout()
    return _save(fig, path)


def loco_matrix(runs: Sequence[Mapping], *, reference: str = "none", n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Leave-one-corpus-out matrix: one row per held-out corpus (run ``key``) plus the in-domain
    reference (``key == reference``: trained on every corpus).

    Runs score ``all:<corpus>`` (every row of a corpus), ``val:<corpus>`` (its validation rows,
    the same rows in every run) and the standing sets. Columns: ``n``, ``micro_f1``/``macro_f1``
    and the bootstrap interval on the held-out corpus (all its rows), ``in_domain_micro_f1`` (the
    reference on its validation rows), ``loco_val_micro_f1`` (this run, same rows) and ``drop``
    (their difference), ``<set>.micro_f1`` per standing set, ``child_run_id``."""
    ref = next((r for r in runs if r["key"] == reference), None)
    standing = _ordered_sets({s for r in runs for s in r["sets"] if ":" not in s})
    rows = []
    for r in sorted(runs, key=lambda r: (r["key"] == reference, r["key"])):
        c = r["key"]
        row: dict = {"held_out": c, "child_run_id": r["child_run_id"]}
        held = r["sets"].get(f"all:{c}")
        if held:
            lo, hi = bootstrap_micro_f1(np.array(held["correct"]), n=n_boot, seed=seed)
            row.update(n=held["n"], micro_f1=held["micro_f1"], macro_f1=held["macro_f1"], ci_low=lo, ci_high=hi)
        own, ref_val = r["sets"].get(f"val:{c}"), (ref or {"sets": {}})["sets"].get(f"val:{c}")
        if own and ref_val:
            row.update(in_domain_micro_f1=ref_val["micro_f1"], loco_val_micro_f1=own["micro_f1"],
                       drop=ref_val["micro_f1"] - own["micro_f1"])
        row.update({f"{s}.micro_f1": r["sets"][s]["micro_f1"] for s in standing if s in r["sets"]})
        rows.append(row)
    return pd.DataFrame(rows)


def loco_heatmap(matrix: pd.DataFrame, path: str | Path) -> Path:
    """Held-out corpus (rows) × F1 metric (columns) as a heatmap, values in percent."""
    cols = [c for c in matrix.columns if c in ("micro_f1", "macro_f1", "in_domain_micro_f1", "loco_val_micro_f1")
            or c.endswith(".micro_f1")]
    values = matrix[cols].to_numpy(dtype=float) * 100
    fig, ax = plt.subplots(figsize=(1.2 * len(cols) + 2, 0.5 * len(matrix) + 1.5))
    im = ax.imshow(values, vmin=0, vmax=100, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(cols)), cols, rotation=45, ha="right")
    ax.set_yticks(range(len(matrix)), [f"without {k}" if k != "none" else "all corpora" for k in matrix["held_out"]])
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            if np.isfinite(values[i, j]):
                ax.text(j, i, f"{values[i, j]:.1f}", ha="center", va="center", color="w", fontsize=8)
    fig.colorbar(im, ax=ax, label="F1 (%)")
    fig.tight_layout()
    return _save(fig, path)


def few_shot_table(runs: Sequence[Mapping], *, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Few-shot curves as a table: one row per (set, k), sorted; ``n_test``, ``n_shots``,
    micro/macro F1, bootstrap interval of micro F1, ``child_run_id``. Records carry ``set`` and
    ``k``; k = 0 is the zero-shot point (the emotion model as trained)."""
    rows = []
    for r in runs:
        got = r["sets"][r["set"]]
        lo, hi = bootstrap_micro_f1(np.array(got["correct"]), n=n_boot, seed=seed)
        rows.append({"set": r["set"], "k": int(r["k"]), "n_test": got["n"], "n_shots": int(r.get("n_shots", 0)),
                     "micro_f1": got["micro_f1"], "macro_f1": got["macro_f1"], "ci_low": lo, "ci_high": hi,
                     "child_run_id": r["child_run_id"]})
    return pd.DataFrame(rows).sort_values(["set", "k"], kind="stable").reset_index(drop=True)


def few_shot_plot(table: pd.DataFrame, path: str | Path) -> Path:
    """Micro (solid) and macro (dashed) F1 against k per set."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for s, g in table.groupby("set"):
        line, = ax.plot(g["k"], g["micro_f1"] * 100, "o-", label=f"{s} micro")
        ax.fill_between(g["k"], g["ci_low"] * 100, g["ci_high"] * 100, color=line.get_color(), alpha=0.15)
        ax.plot(g["k"], g["macro_f1"] * 100, "s--", color=line.get_color(), label=f"{s} macro")
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlabel("k (labelled clips per class; 0 = zero-shot)")
    ax.set_ylabel("F1 (%)")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return _save(fig, path)


def write_table(table: pd.DataFrame, out_dir: str | Path, stem: str, markdown: str | None = None) -> dict[str, Path]:
    """``<stem>.csv`` and ``<stem>.md`` (``markdown`` or the table itself) under ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / f"{stem}.csv", index=False)
    md = markdown if markdown is not None else _markdown(table)
    (out / f"{stem}.md").write_text(md)
    return {"csv": out / f"{stem}.csv", "markdown": out / f"{stem}.md"}


def _markdown(table: pd.DataFrame) -> str:
    shown = table.copy()
    for c in shown.columns:
        if c not in ("k", "n", "n_test", "n_shots") and pd.api.types.is_float_dtype(shown[c]):
            shown[c] = shown[c].map(_pct)
    return shown.to_markdown(index=False) + "\n"


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
