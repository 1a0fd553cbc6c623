"""Ablation variants: the paper's setup and one change of one factor at a time.

The base is the paper's setup (§2.2–2.6): soft labels with neutral smoothing, waveform
augmentation and SpecAugment on, the GRL domain head, Algorithm 1 packing. Each other variant
differs from it in exactly one factor:

=============  ==============================  ===========================================
factor         levels (base first)             what changes
=============  ==============================  ===========================================
labels         soft, hard                      hard: one-hot of the argmax of ``soft_*``
smoothing      neutral, paper, none            none: raw scores normalised, no smoothing
augment        on, off                         ``TrainConfig.augment.enabled``
specaugment    on, off                         ``TrainConfig.specaugment.enabled``
domain         grl, paper, off                 ``TrainConfig.domain_loss``
packing        algorithm1, one_clip            one_clip: ``fill`` = :data:`ONE_CLIP_FILL`
=============  ==============================  ===========================================

One clip per window needs no new packing code: Algorithm 1 closes a window once it holds
``ceil(fill·L·50)`` frames, and with ``fill = ONE_CLIP_FILL`` that is one frame, so every window
closes after its first clip (tests/test_experiments_core.py pins it).

A variant's factor fields override the base config's (the base config supplies everything else:
model, window, epochs, learning rate ...). The labels of the evaluation sets never change with
the variant, so every variant is scored on the same targets.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from ser_pipeline.emotions import CLASSES
from ser_pipeline.labels.harmonize import corpus_mean_intensity, write_soft_columns
from ser_pipeline.labels.smoothing import neutral_smoothing, normalise
from ser_pipeline.training.config import TrainConfig

#: factor -> levels, the base's level first
FACTORS: dict[str, tuple[str, ...]] = {
    "labels": ("soft", "hard"),
    "smoothing": ("neutral", "paper", "none"),
    "augment": ("on", "off"),
    "specaugment": ("on", "off"),
    "domain": ("grl", "paper", "off"),
    "packing": ("algorithm1", "one_clip"),
}
BASE = "base"
#: a fill this small closes every window after one clip (ceil(fill·frames) = 1 for L <= 1,000,000 s)
ONE_CLIP_FILL = 1e-6


@dataclasses.dataclass(frozen=True)
class Variant:
    """One ablation arm: its factor levels (every factor, base levels where unchanged)."""

    name: str  # "base" or "<factor>-<level>", also the Dagster partition key
    factor: str  # the factor it changes ("base" for the base)
    levels: tuple[tuple[str, str], ...]  # ((factor, level), ...) in FACTORS order

    def level(self, factor: str) -> str:
        return dict(self.levels)[factor]

    def train_config(self, base: Mapping[str, Any], seed: int = 0) -> TrainConfig:
        """The base training config (a :class:`TrainConfig` dict) with this variant's factor
        fields and ``seed`` (added to the base seed). Raises ``ValueError`` naming a bad field."""
        d = copy.deepcopy(dict(base))
        d["augment"] = {**(d.get("augment") or {}), "enabled": self.level("augment") == "on"}
        d["specaugment"] = {**(d.get("specaugment") or {}), "enabled": self.level("specaugment") == "on"}
        d["domain_loss"] = self.level("domain")
        if self.level("packing") == "one_clip":
            d["fill"] = ONE_CLIP_FILL
        d["seed"] = int(d.get("seed", 0)) + seed
        return TrainConfig.from_dict(d)

    def label_table(self, table: pd.DataFrame) -> pd.DataFrame:
        """A copy of a splits table whose ``soft_*`` and ``hard_label`` follow this variant's
        smoothing and label levels, recomputed from the raw score columns and ``intensity``
        (Ē per corpus from the table's own rows, as ``label_intensity`` computes it)."""
        return relabel(table, self.level("smoothing"), hard=self.level("labels") == "hard")


def relabel(table: pd.DataFrame, smoothing: str, *, hard: bool = False) -> pd.DataFrame:
    """``soft_*`` recomputed from the raw scores: ``neutral``/``paper`` smoothing (paper §2.2) or
    ``none`` (normalised raw scores); ``hard`` turns each row into the one-hot of its argmax."""
    if smoothing not in FACTORS["smoothing"]:
        raise ValueError(f"smoothing must be one of {FACTORS['smoothing']}, found {smoothing!r}")
    out = table.copy()
    soft = np.zeros((len(out), len(CLASSES)))
    for corpus, rows in out.groupby("corpus", sort=False):
        pos = out.index.get_indexer(rows.index)
        raw = rows[list(CLASSES)].to_numpy(dtype=np.float64)
        if smoothing == "none":
            soft[pos] = normalise(raw)
        else:
            soft[pos] = neutral_smoothing(raw, rows["intensity"].to_numpy(), corpus_mean_intensity(rows), smoothing)
    if hard:
        soft = np.eye(len(CLASSES))[soft.argmax(axis=1)]
    write_soft_columns(out, soft)
    return out


def make_variant(factor: str, level: str) -> Variant:
    """The variant that sets ``factor`` to ``level`` and keeps the base elsewhere."""
    if factor not in FACTORS or level not in FACTORS[factor]:
        raise ValueError(f"unknown ablation level {factor}={level}; known: "
                         + "; ".join(f"{f}: {', '.join(ls)}" for f, ls in FACTORS.items()))
    levels = tuple((f, level if f == factor else ls[0]) for f, ls in FACTORS.items())
    is_base = level == FACTORS[factor][0]
    return Variant(BASE if is_base else f"{factor}-{level}", BASE if is_base else factor, levels)


def ablation_variants(factors: Iterable[str] | None = None) -> list[Variant]:
    """The base plus one variant per non-base level of each factor in ``factors`` (None = all),
    in :data:`FACTORS` order. Raises ``ValueError`` naming an unknown factor."""
    chosen = list(FACTORS) if factors is None else list(factors)
    unknown = sorted(set(chosen) - set(FACTORS))
    if unknown:
        raise ValueError(f"unknown ablation factor(s) {unknown}; known: {', '.join(FACTORS)}")
    out = [make_variant("labels", "soft")]
    for f, levels in FACTORS.items():
        if f in chosen:
            out += [make_variant(f, lv) for lv in levels[1:]]
    return out


def variant_by_name(name: str) -> Variant:
    """The variant called ``name`` (``base`` or ``<factor>-<level>``)."""
    for v in ablation_variants():
        if v.name == name:
            return v
    raise ValueError(f"unknown ablation variant {name!r}; known: {', '.join(v.name for v in ablation_variants())}")
