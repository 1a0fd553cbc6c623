import pandas as pd

from ser_pipeline.emotions import RELEASED_PRIOR
from ser_pipeline.evaluation.model_card import model_card, training_counts


def test_training_counts_and_card():
    splits = pd.DataFrame({"corpus": ["a", "a", "a", "b", "c"], "split": ["train", "train", "validation", "train", "zero_shot"],
                           "duration_s": [3600.0, 1800.0, 10.0, 360.0, 5.0]})
    counts = training_counts(splits)
    assert counts.to_dict("records") == [{"corpus": "a", "train": 2, "validation": 1, "hours": 1.5},
                                         {"corpus": "b", "train": 1, "validation": 0, "hours": 0.1}]
    card = model_card(name="m", train_counts=counts, prior=RELEASED_PRIOR, table2_markdown="| | V |\n|---|---|",
                      train_config={"epochs": 1}, mlflow_run_id="r1")
    assert "| 7 | neutral | 0.3891 |" in card
    assert "| **total** | 3 | 1 | 1.60 |" in card and "`r1`" in card
