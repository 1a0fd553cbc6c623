"""A Markdown model card: what the model predicts, what it was trained on, how it scores."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from ser_pipeline.emotions import CLASSES


def model_card(*, name: str, train_counts: pd.DataFrame, prior: Sequence[float], table2_markdown: str,
               train_config: Mapping, mlflow_run_id: str | None = None, temporal: Mapping | None = None) -> str:
    """The card as Markdown.

    Args:
        train_counts: one row per corpus with columns ``corpus``, ``train``, ``validation`` (rows)
            and ``hours`` (training audio).
        prior: the training class prior, shape (8,), in :data:`CLASSES` order.
        table2_markdown: the evaluation table (Table 2 layout).
    """
    lines = [f"# Model card: {name}", ""]
    if mlflow_run_id:
        lines += [f"MLflow run: `{mlflow_run_id}`", ""]
    lines += ["## Output", "",
              "A Whisper encoder with a linear head applied to every encoder frame (50 Hz: one frame = 20 ms);",
              "the clip's emotion is the mean of its frame logits. Label order (the head's rows):", "",
              "| index | class | training prior |", "|---|---|---|"]
    lines += [f"| {i} | {c} | {p:.4f} |" for i, (c, p) in enumerate(zip(CLASSES, prior, strict=True))]
    lines += ["", "Logit adjustment subtracts τ·log(prior) from the logits (τ = 1 in the evaluation).", "",
              "## Training data", "", "| corpus | train | validation | hours |", "|---|---|---|---|"]
    for r in train_counts.itertuples(index=False):
        lines.append(f"| {r.corpus} | {r.train} | {r.validation} | {r.hours:.2f} |")
    lines.append(f"| **total** | {int(train_counts['train'].sum())} | {int(train_counts['validation'].sum())} | "
                 f"{float(train_counts['hours'].sum()):.2f} |")
    lines += ["", "## Evaluation (micro F1 and per-emotion F1, %; \"-\" = class absent from the set, banned)", "",
              table2_markdown.strip(), ""]
    if temporal:
        lines += ["## Temporal shifts", "",
                  f"Frame accuracy (50 Hz) {100 * temporal['frame_accuracy']:.2f} %, change-point F1 "
                  f"(±0.5 s) {100 * temporal['cp_f1']:.2f} % on windows of concatenated held-out clips.", ""]
    lines += ["## Training configuration", "", "```json"]
    import json

    lines += [json.dumps(dict(train_config), indent=2, default=str), "```", ""]
    return "\n".join(lines)


def training_counts(splits: pd.DataFrame) -> pd.DataFrame:
    """Rows per corpus in train and validation, and training hours."""
    tv = splits[splits["split"].isin(["train", "validation"])]
    counts = tv.groupby(["corpus", "split"]).size().unstack(fill_value=0)
    for col in ("train", "validation"):
        if col not in counts:
            counts[col] = 0
    hours = tv[tv["split"] == "train"].groupby("corpus")["duration_s"].sum() / 3600
    out = counts[["train", "validation"]].join(hours.rename("hours")).fillna(0.0).reset_index()
    return out.astype({"train": int, "validation": int})
