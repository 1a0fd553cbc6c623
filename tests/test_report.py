"""Table 2 layout, formatting and the files written."""

import numpy as np
import pandas as pd

from ser_pipeline.emotions import CLASSES
from ser_pipeline.evaluation.metrics import evaluate_predictions, scored_classes
from ser_pipeline.evaluation.report import ROWS, build_table2, table_markdown, write_report

H, S, A = CLASSES.index("happiness"), CLASSES.index("sadness"), CLASSES.index("anger")
PRIOR = np.full(8, 1 / 8)  # uniform prior: adjustment changes nothing


def _result(y_true, y_pred):
    logits = np.zeros((len(y_true), 8), dtype=np.float32)
    logits[np.arange(len(y_pred)), y_pred] = 1.0
    return evaluate_predictions(logits, np.array(y_true), scored_classes(np.array(y_true)), PRIOR)


def test_table2_layout_and_values(tmp_path):
    # urdu-like set: true [H, S, S], pred [S, S, S] -> micro 2/3 = 66.67 %
    # F1_H = 0; F1_S = 2·2/(2·2+1+0) = 0.8 -> 80.00 %
    urdu = _result([H, S, S], [S, S, S])
    # validation: true [H, A], pred [H, A] -> everything 100 %
    val = _result([H, A], [H, A])
    results = {"urdu": urdu, "validation": val}  # given out of order
    table = build_table2(results, random={"urdu": 0.2475, "validation": _result([H, A], [A, A])})
    assert list(table.columns) == ["Validation", "Z-URDU"]
    assert list(table.index) == list(ROWS)
    assert list(table.index[2:]) == ["Anger", "Disgust", "Fear", "Happiness", "Neutral", "Other",
                                     "Sadness", "Surprise"]
    md = table_markdown(table)
    assert "| Micro F1 | 100.00 | 66.67 |" in md
    # random on validation: true [H, A], pred [A, A] -> 1/2 = 50 %
    assert "| Random F1 | 50.00 | 24.75 |" in md
    assert "| Sadness | - | 80.00 |" in md
    assert "| Happiness | 100.00 | 0.00 |" in md
    assert "| Disgust | - | - |" in md

    paths = write_report(results, tmp_path / "report")
    assert set(paths) == {"csv", "markdown", "heatmap", "confusion/validation", "confusion/urdu"}
    csv = pd.read_csv(paths["csv"], index_col=0, dtype=str, keep_default_na=False)
    assert csv.loc["Random F1", "Z-URDU"] == "-"  # no random results given here
    assert csv.loc["Micro F1", "Z-URDU"] == "66.67"
    for key in ("heatmap", "confusion/urdu"):
        assert paths[key].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
