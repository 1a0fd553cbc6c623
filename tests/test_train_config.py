"""The Dagster config of the training steps is generated from the core's TrainConfig: a field is
defined once, and run config reaches the core unchanged."""

import dataclasses

import dagster as dg
import pytest

from ser_pipeline.audio.augment import AugmentConfig
from ser_pipeline.audio.specaugment import SpecAugmentConfig
from ser_pipeline.defs.finetune import HumeFinetuneConfig
from ser_pipeline.defs.train_config import field_comments
from ser_pipeline.defs.training import LAUNCH_FIELDS, EmotionModelConfig
from ser_pipeline.model.config import ModelConfig
from ser_pipeline.training.config import TrainConfig
from ser_pipeline.training.schedule import AccumulationSchedule


def _names(cls) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def test_every_train_config_field_is_a_dagster_field():
    fields = set(EmotionModelConfig.model_fields)
    assert fields == _names(TrainConfig) | LAUNCH_FIELDS
    assert set(EmotionModelConfig.model_fields["model"].annotation.model_fields) == _names(ModelConfig)


def test_defaults_reach_the_core_unchanged():
    got, want = EmotionModelConfig().to_train_config(), TrainConfig.from_dict({})
    nested = {"augment", "specaugment", "accumulation"}
    assert {k: v for k, v in got.to_dict().items() if k not in nested} == \
        {k: v for k, v in want.to_dict().items() if k not in nested}
    # the nested settings spelled out in full resolve to the same objects as the core's defaults
    assert AugmentConfig.from_dict(got.augment) == AugmentConfig.from_dict(want.augment)
    assert SpecAugmentConfig(**got.specaugment) == SpecAugmentConfig(**want.specaugment)
    assert AccumulationSchedule(got.accumulation).as_dict() == AccumulationSchedule(want.accumulation).as_dict()
    hume = HumeFinetuneConfig()
    assert hume.epochs == 5 and TrainConfig().epochs == 3  # the fine-tune's own default


def test_descriptions_come_from_the_dataclass_comments():
    assert "Algorithm 1" not in field_comments(TrainConfig)["fill"]  # the comment, not the section title
    assert field_comments(TrainConfig)["fill"] == "a window is closed once it holds >= fill·L"
    assert EmotionModelConfig.model_fields["fill"].description == field_comments(TrainConfig)["fill"]


def test_run_config_with_nested_model_trains_what_it_says():
    seen = {}

    @dg.asset
    def probe(config: EmotionModelConfig) -> None:
        seen["cfg"] = config.to_train_config()

    run_config = {"ops": {"probe": {"config": {
        "epochs": 7, "window_s": 4.0, "accumulation": {"0": 1, "2": 4}, "augment": {"p": 0.3},
        "model": {"d_model": 32, "freeze_front_end": "false"}, "launcher": "in_process"}}}}
    assert dg.materialize([probe], run_config=run_config).success
    cfg = seen["cfg"]
    assert cfg.epochs == 7 and cfg.window_s == 4.0 and cfg.model.d_model == 32
    assert cfg.augment["p"] == 0.3 and cfg.accumulation == {"0": 1, "2": 4}


def test_a_typo_is_refused_before_the_run_naming_the_key():
    @dg.asset
    def probe(config: EmotionModelConfig) -> None:
        pass

    with pytest.raises(dg.DagsterInvalidConfigError, match='unexpected config entry "epoch"'):
        dg.materialize([probe], run_config={"ops": {"probe": {"config": {"epoch": 3}}}})


def test_core_config_typo_suggests_the_field():
    with pytest.raises(ValueError, match=r"unknown training config field 'epoch' \(did you mean 'epochs'\?\)"):
        TrainConfig.from_dict({"epoch": 3})
    with pytest.raises(ValueError, match=r"'d_modle' \(did you mean 'd_model'\?\)"):
        TrainConfig.from_dict({"model": {"d_modle": 3}})
