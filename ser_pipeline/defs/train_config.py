"""Dagster config classes generated from the core's training dataclasses.

``TrainConfig`` (and its nested ``ModelConfig``, ``AugmentConfig``, ``SpecAugmentConfig``) is the
one definition of a training setting; this module turns it into ``dg.Config`` classes, so a new
training field appears in the Dagster UI, in run-config validation and in the launchpad without
being written twice. Each field's description is its comment in the dataclass source.
"""

import ast
import dataclasses
import inspect
import textwrap
import types
import typing
from functools import cache
from typing import Any

import dagster as dg
import pydantic

from ser_pipeline.audio.augment import AugmentConfig
from ser_pipeline.audio.specaugment import SpecAugmentConfig
from ser_pipeline.model.config import ModelConfig
from ser_pipeline.training.config import TrainConfig
from ser_pipeline.training.launch import Launch

#: TrainConfig's untyped dict fields and the dataclass (or Dagster type) they hold
NESTED = {"augment": AugmentConfig, "specaugment": SpecAugmentConfig, "model": ModelConfig}
#: epoch -> micro-batches per optimizer step; Dagster config maps need string keys
DICT_FIELDS = {"accumulation": dict[str, int]}


@cache
def field_comments(cls: type) -> dict[str, str]:
    """``{field: trailing comment}`` of a dataclass's field lines (its documentation in the source)."""
    src = textwrap.dedent(inspect.getsource(cls))
    lines = src.splitlines()
    out = {}
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            line = lines[node.lineno - 1]
            if "#" in line:
                out[node.target.id] = line.split("#", 1)[1].strip()
    return out


def _config_type(tp: Any) -> Any:
    """A Dagster-config-compatible annotation for a dataclass field's type."""
    origin = typing.get_origin(tp)
    if origin is tuple:
        return list[typing.get_args(tp)[0]]
    if origin in (types.UnionType, typing.Union):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return _config_type(args[0]) | None
        return str  # e.g. bool | str: one string with named choices
    return tp


def config_class(cls: type, name: str, defaults: dict[str, Any] | None = None,
                 extra: tuple[type, ...] = ()) -> type[dg.Config]:
    """A ``dg.Config`` subclass with one field per dataclass field of ``cls`` and of each ``extra``
    dataclass (same defaults unless ``defaults`` overrides them; nested dataclasses become nested
    config classes)."""
    defaults = defaults or {}
    fields: dict[str, Any] = {}
    for klass in (cls, *extra):
        fields.update(_config_fields(klass, name, defaults))
    return pydantic.create_model(name, __base__=dg.Config, __doc__=cls.__doc__, **fields)


def _config_fields(cls: type, name: str, defaults: dict[str, Any]) -> dict[str, Any]:
    """``{field: (annotation, pydantic.Field)}`` of one dataclass, for :func:`config_class`."""
    hints = typing.get_type_hints(cls)
    comments = field_comments(cls)
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        desc = comments.get(f.name)
        if f.name in NESTED:
            sub = config_class(NESTED[f.name], f"{name}_{f.name}")
            fields[f.name] = (sub, pydantic.Field(default_factory=sub, description=desc))
            continue
        tp = DICT_FIELDS.get(f.name) or _config_type(hints[f.name])
        if f.name in defaults:
            value = defaults[f.name]
        elif f.default is not dataclasses.MISSING:
            value = f.default
        else:
            value = f.default_factory()
        if isinstance(value, tuple):
            value = list(value)
        if isinstance(value, dict):
            value = {str(k): v for k, v in value.items()}
        fields[f.name] = (tp, pydantic.Field(default=value, description=desc))
    return fields


def train_config_class(name: str, *, launch: bool = False, **defaults: Any) -> type[dg.Config]:
    """The Dagster config of a training step: every :class:`TrainConfig` field, and with
    ``launch`` every :class:`Launch` field (processes, nodes, rendezvous)."""
    return config_class(TrainConfig, name, defaults, extra=(Launch,) if launch else ())


#: the config fields :func:`train_config_class` adds with ``launch=True``
LAUNCH_CONFIG_FIELDS = frozenset(f.name for f in dataclasses.fields(Launch))


def to_launch(config: dg.Config, key: str, **overrides: Any) -> Launch:
    """The :class:`Launch` of a config made with ``launch=True`` (``overrides`` fill values the
    config leaves empty, e.g. ``rdzv_id``); a bad value is a ``dg.Failure`` naming ``key.field``."""
    values = {name: getattr(config, name) for name in LAUNCH_CONFIG_FIELDS}
    values.update({k: v for k, v in overrides.items() if not values.get(k)})
    launch = Launch(**values)
    try:
        launch.validate(prefix=f"{key}.")
    except ValueError as exc:
        raise dg.Failure(str(exc)) from exc
    return launch


def to_train_config(config: dg.Config, dagster_only: set[str]) -> TrainConfig:
    """The core's :class:`TrainConfig` from a generated config, minus the Dagster-only fields;
    a bad value is a ``dg.Failure`` naming it."""
    values = config.model_dump(exclude=dagster_only)
    try:
        return TrainConfig.from_dict(values)
    except (ValueError, TypeError) as exc:
        raise dg.Failure(f"training config: {exc}") from exc
