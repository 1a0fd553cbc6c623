"""A newly registered version never displaces a better one (issue 15.1), and a registered version
says what it is (issue 15.6): the promotion rule on hand values, then the real MLflow registry."""

import json

import mlflow
import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from ser_pipeline.emotions import CLASSES, RELEASED_PRIOR
from ser_pipeline.evaluation.promotion import CHALLENGER, CHAMPION, comparison_metrics, decide
from ser_pipeline.model import ModelConfig, build_model, export_model
from ser_pipeline.model.export import read_export_meta

V, E, M, U, A = "validation/micro_f1", "emodb/macro_f1", "masc/macro_f1", "urdu/macro_f1", "aesdd/macro_f1"


def test_first_version_is_champion():
    assert decide({V: 0.1}, None).alias == CHAMPION


@pytest.mark.parametrize("new,champion,alias", [
    ({V: 0.74, E: 0.40, M: 0.30}, {V: 0.74, E: 0.40, M: 0.30}, CHAMPION),  # as good: moves
    ({V: 0.80, E: 0.45, M: 0.30}, {V: 0.74, E: 0.40, M: 0.30}, CHAMPION),
    ({V: 0.02, E: 0.90, M: 0.90}, {V: 0.74, E: 0.40, M: 0.30}, CHALLENGER),  # the bad model
    ({V: 0.80, E: 0.30, M: 0.30}, {V: 0.74, E: 0.40, M: 0.30}, CHALLENGER),  # worse zero-shot mean
    ({V: 0.80, E: 0.20, M: 0.60}, {V: 0.74, E: 0.40, M: 0.30}, CHAMPION),  # the mean, not each set
    # absent sets are skipped: only EmoDB is in both, and it is better
    ({V: 0.80, E: 0.50, U: 0.01}, {V: 0.74, E: 0.40, M: 0.90, A: 0.90}, CHAMPION),
    ({E: 0.90}, {V: 0.74, E: 0.40}, CHALLENGER),  # no validation to compare: never displaces
    ({V: 0.90}, {E: 0.40}, CHALLENGER),  # nothing in common
    ({V: 0.75}, {V: 0.74}, CHAMPION),  # no zero-shot set on either side: validation decides
])
def test_champion_only_when_at_least_as_good_on_validation_and_zero_shot(new, champion, alias):
    decision = decide(new, champion)
    assert decision.alias == alias, decision.reason


def test_comparison_metrics_take_validation_micro_and_present_zero_shot_macro():
    report = {"validation": {"micro_f1": 0.7, "macro_f1": 0.5}, "iemocap_s4": {"micro_f1": 0.6, "macro_f1": 0.4},
              "emodb": {"micro_f1": 0.3, "macro_f1": 0.2}}
    assert comparison_metrics(report) == {V: 0.7, E: 0.2}


def tiny_export(path, note: str):
    torch.manual_seed(0)
    model = build_model(ModelConfig(d_model=16, encoder_layers=1, encoder_attention_heads=1, encoder_ffn_dim=32), 2.0)
    return export_model(model, path, prior=RELEASED_PRIOR, note=note)


def test_registered_versions_carry_description_tags_signature_and_the_aliases_follow_the_rule(tmp_path):
    from ser_pipeline.defs.mlflow_model import (
        DESCRIPTION, REGISTERED_NAME, SIGNATURE, download_export, log_and_register, promote, registry_tags,
    )
    from ser_pipeline.defs.resources import DataDirResource, MlflowResource

    # what an earlier registration in this process leaves behind: a process-wide registry URI
    # naming another store (the client must still read the store it was made for)
    mlflow.set_registry_uri(f"sqlite:///{tmp_path}/another_store.db")
    ml = MlflowResource(data_dir=DataDirResource(path=str(tmp_path / "data")),
                        tracking_uri=f"sqlite:///{tmp_path}/registry.db")
    uri = ml.ensure_available()
    client = ml.client()
    table = pd.DataFrame({"corpus": ["ravdess", "ravdess", "crema_d", "emodb"],
                          "split": ["train", "train", "train", "validation"], "duration_s": [1800.0, 1800.0, 360.0, 2.0]})
    tags = registry_tags(table, 8.0, "abc123", ["ravdess"])

    def register(note):
        with ml.run(f"reg-{note}", {}) as run_id:
            return log_and_register(run_id, tiny_export(tmp_path / note, note), uri, tags=tags)

    first = register("v1")
    version = client.get_model_version(REGISTERED_NAME, first.version)
    assert version.tags["label_order"] == ",".join(CLASSES) and version.tags["window_s"] == "8"
    assert version.tags["training_corpora"] == "crema_d,ravdess" and version.tags["splits_data_version"] == "abc123"
    assert version.tags["training_rows"] == "3" and version.tags["synthetic_speech"] == "ravdess"
    assert "Trained on 3 rows (1.100 h) of crema_d,ravdess; synthetic (generated) speech: ravdess" in version.description
    assert client.get_registered_model(REGISTERED_NAME).description == DESCRIPTION
    info = mlflow.models.get_model_info(f"models:/{REGISTERED_NAME}/{first.version}")
    assert info.signature == SIGNATURE
    assert info.signature.inputs.input_names() == ["path"]
    assert info.signature.outputs.input_names() == ["path", "top", *CLASSES, "timeline"]

    p1 = promote(client, first.version, {V: 0.74, E: 0.40})
    assert p1.decision.alias == CHAMPION and p1.champion_before is None
    second = register("v2")
    p2 = promote(client, second.version, {V: 0.02, E: 0.10})  # worse: the champion stays
    assert p2.decision.alias == CHALLENGER and p2.champion_before == first.version
    assert str(client.get_model_version_by_alias(REGISTERED_NAME, CHAMPION).version) == first.version
    assert str(client.get_model_version_by_alias(REGISTERED_NAME, CHALLENGER).version) == second.version
    # the compared metrics live on the versions: the next comparison reads them from the registry
    assert float(client.get_model_version(REGISTERED_NAME, second.version).tags["ser.metric." + V]) == 0.02
    third = register("v3")
    p3 = promote(client, third.version, {V: 0.80, E: 0.40, M: 0.5})
    assert p3.decision.alias == CHAMPION and p3.champion_metrics == {V: 0.74, E: 0.40}
    assert str(client.get_model_version_by_alias(REGISTERED_NAME, CHAMPION).version) == third.version

    # "the current model" (no version given) is the champion
    assert read_export_meta(download_export(f"models:/{REGISTERED_NAME}", uri))["note"] == "v3"
    assert read_export_meta(download_export(f"models:/{REGISTERED_NAME}@{CHALLENGER}", uri))["note"] == "v2"
    # the signature does not get in the way of predicting
    wav = tmp_path / "talk.wav"
    sf.write(wav, 0.1 * np.sin(np.arange(16000) / 9.0).astype(np.float32), 16000)
    out = mlflow.pyfunc.load_model(f"models:/{REGISTERED_NAME}@{CHAMPION}").predict(
        pd.DataFrame({"path": [str(wav)]}), params={"ban": ["other"]})
    assert out.loc[0, "top"] in CLASSES and out.loc[0, "top"] != "other"
    assert len(json.loads(out.loc[0, "timeline"])["probs"]) > 0
