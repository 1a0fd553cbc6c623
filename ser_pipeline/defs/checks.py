"""Asset checks. Blocking ones stop a bad table from flowing on in the same run."""

import dagster as dg
import numpy as np
import pandas as pd

from ser_pipeline.corpora.validate import leakage, validate_manifest, validate_soft_labels
from ser_pipeline.defs.corpora import CORPUS_NAMES, corpus_key
from ser_pipeline.defs.evaluation import EVAL_SETS, select_set
from ser_pipeline.defs.io import read_parquet
from ser_pipeline.defs.resources import DataDirResource
from ser_pipeline.emotions import CLASSES, SOFT_COLUMNS
from ser_pipeline.evaluation.metrics import EXPECTED_SCORED
from ser_pipeline.settings import max_reject_share



def _result(problems: list[str], context: dg.AssetCheckExecutionContext | None = None,
            **metadata) -> dg.AssetCheckResult:
    """A check result whose description (and, on failure, an error in the run's log) names each
    problem with its offending rows (utterance ids, at most 20 per problem), not only its metadata."""
    text = "\n".join(problems)
    if problems and context is not None:
        context.log.error(f"{context.check_specs[0].asset_key.to_user_string()} failed "
                          f"{context.check_specs[0].name}:\n{text}")
    return dg.AssetCheckResult(passed=not problems, description=text or None,
                               metadata={"problems": text or "none", **metadata})


def make_corpus_checks(name: str) -> list[dg.AssetChecksDefinition]:
    key = corpus_key(name)

    # Not blocking: a blocking check would make every label asset's corpus input a two-source
    # input, which Dagster cannot fan in (defs/labels.py); the label assets refuse an invalid
    # table themselves (labels.label_corpus_tables).
    @dg.asset_check(asset=key, name="table_valid", blocking=False,
                    description="8 score columns in order, scores in [0, 1], no NaN, unique ids, sane durations, "
                                "probed rates; the label assets refuse a table that fails it")
    def _table_valid(context: dg.AssetCheckExecutionContext, table: pd.DataFrame) -> dg.AssetCheckResult:
        return _result(validate_manifest(table), context, rows=len(table))

    @dg.asset_check(asset=key, name="reject_share", blocking=False,
                    description="warns when rejects exceed SER_MAX_REJECT_SHARE (default 5 %) of the files")
    def _reject_share(table: pd.DataFrame, data_dir: DataDirResource) -> dg.AssetCheckResult:
        rejects = read_parquet(data_dir.base() / "rejects" / f"{name}.parquet")
        if rejects is None:
            rejects = pd.DataFrame(columns=["reason"])
        rows = len(table)
        total = rows + len(rejects)
        share = len(rejects) / total if total else 0.0
        return dg.AssetCheckResult(
            passed=share <= max_reject_share(), severity=dg.AssetCheckSeverity.WARN,
            metadata={"reject_share": round(share, 4), "rejects": len(rejects), "rows": rows,
                      "by_reason": dg.MetadataValue.json(rejects["reason"].value_counts().to_dict())})

    return [_table_valid, _reject_share]


@dg.asset_check(asset="smoothed_labels", blocking=True, description="soft labels non-negative, no NaN, summing to 1")
def soft_labels_valid(context: dg.AssetCheckExecutionContext, smoothed_labels: pd.DataFrame) -> dg.AssetCheckResult:
    return _result(validate_soft_labels(smoothed_labels), context, rows=len(smoothed_labels))


@dg.asset_check(asset="splits", blocking=True,
                description="no speaker or utterance of the test set or the zero-shot corpora in training")
def no_held_out_leakage(context: dg.AssetCheckExecutionContext, splits: pd.DataFrame) -> dg.AssetCheckResult:
    return _result(leakage(splits), context, **{f"n_{k}": int(v) for k, v in splits["split"].value_counts().items()})


@dg.asset_check(asset="splits", blocking=False,
                description="every evaluation set scores exactly the classes of docs/labels.md")
def evaluation_classes(splits: pd.DataFrame) -> dg.AssetCheckResult:
    problems, present = [], {}
    for s in EVAL_SETS:
        rows = select_set(splits, s)
        if rows.empty:
            continue
        got = {CLASSES[i] for i in np.unique(rows[list(SOFT_COLUMNS)].to_numpy().argmax(1))}
        present[s] = ", ".join(sorted(got))
        if s in EXPECTED_SCORED and s != "validation" and got != set(EXPECTED_SCORED[s]):
            problems.append(f"{s}: found classes {sorted(got)}, expected {sorted(EXPECTED_SCORED[s])}")
    return dg.AssetCheckResult(passed=not problems, severity=dg.AssetCheckSeverity.WARN,
                               metadata={"problems": "\n".join(problems) or "none", **present})


CHECKS = [c for n in CORPUS_NAMES for c in make_corpus_checks(n)] + [soft_labels_valid, no_held_out_leakage,
                                                                      evaluation_classes]
