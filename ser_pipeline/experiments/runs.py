"""One experiment run: train (or fine-tune) a model, then score it on evaluation sets with the
paper's protocol (§3.1: each clip alone, mean logits over its frames, banned classes, logit
adjustment), keeping each clip's correctness for the bootstrap."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ser_pipeline.emotions import SOFT_COLUMNS
from ser_pipeline.evaluation.metrics import (ban_classes, evaluate_predictions, logit_adjust,
                                             table2_classes)
from ser_pipeline.labels.splits import TRAIN, VALIDATION, class_prior, training_meta
from ser_pipeline.training.config import TrainConfig


def score_set(model, rows: pd.DataFrame, name: str, prior: np.ndarray, corpus_roots: Mapping[str, str | Path],
              *, tau: float = 1.0, batch_size: int = 16, cache=None) -> dict:
    """Micro/macro F1 (logit-adjusted, Table 2's classes for ``name``, else those present) of
    ``model`` on ``rows``, with ``correct``: 0/1 per row in row order (for the bootstrap)."""
    from ser_pipeline.model.clips import clip_embeddings, head_logits

    emb = clip_embeddings(model, rows, corpus_roots, batch_size=batch_size, valid_only=True, cache=cache)
    logits = head_logits(model, emb)
    y_true = rows[list(SOFT_COLUMNS)].to_numpy().argmax(axis=1)
    allowed = table2_classes(name, y_true)
    adjusted = evaluate_predictions(logits, y_true, allowed, prior, tau)["adjusted"]
    pred = ban_classes(logit_adjust(logits, prior, tau), allowed).argmax(axis=1)
    return {"n": int(len(rows)), "micro_f1": float(adjusted["micro_f1"]), "macro_f1": float(adjusted["macro_f1"]),
            "correct": (pred == y_true).astype(int).tolist()}


def score_sets(export_dir: str | Path, sets: Mapping[str, pd.DataFrame], corpus_roots: Mapping[str, str | Path],
               *, tau: float = 1.0, cache=None) -> dict[str, dict]:
    """:func:`score_set` of an exported model on every non-empty set (empty sets are left out)."""
    from ser_pipeline.model.export import load_model

    model, meta = load_model(export_dir)
    prior = np.asarray(meta["prior"])
    return {name: score_set(model, rows, name, prior, corpus_roots, tau=tau, cache=cache)
            for name, rows in sets.items() if len(rows)}


def train_and_score(cfg: TrainConfig, table: pd.DataFrame, sets: Mapping[str, pd.DataFrame],
                    corpus_roots: Mapping[str, str | Path], out_dir: str | Path, *, callback=None,
                    cache=None, tau: float = 1.0) -> dict:
    """Train on the ``train`` rows of a splits table (validating on its ``validation`` rows),
    export to ``out_dir/export``, score every set. Returns ``{"export_dir", "steps",
    "val_micro_f1", "seconds", "sets": {name: score_set(...)}}``."""
    from ser_pipeline.training.loop import train

    meta = training_meta(table)
    r = train(cfg, table[table["split"] == TRAIN], table[table["split"] == VALIDATION], corpus_roots,
              domain_vocab=meta.domain_vocab, prior=meta.prior, out_dir=out_dir, callback=callback, cache=cache)
    return {"export_dir": str(r.export_dir), "steps": r.steps, "val_micro_f1": r.val_micro_f1,
            "seconds": r.seconds, "sets": score_sets(r.export_dir, sets, corpus_roots, tau=tau, cache=cache)}


def finetune_and_score(export_dir: str | Path, cfg: TrainConfig, k_shot: pd.DataFrame, name: str,
                       test: pd.DataFrame, corpus_roots: Mapping[str, str | Path], out_dir: str | Path, *,
                       callback=None, cache=None, tau: float = 1.0) -> dict:
    """Few-shot: continue training the exported emotion model (encoder and emotion head, a la
    ``model.init_from``; no domain head) on ``k_shot`` with ``cfg``'s optimisation settings and
    the export's window, then score it on ``test`` as set ``name``. Logit adjustment uses the
    k-shot set's class prior, the prior the head was last trained on. An empty ``k_shot`` (k = 0)
    scores the export as it is: the zero-shot point."""
    from ser_pipeline.model.export import load_model
    from ser_pipeline.training.loop import train

    if k_shot.empty:
        return {"export_dir": str(export_dir), "steps": 0, "sets": score_sets(export_dir, {name: test}, corpus_roots,
                                                                             tau=tau, cache=cache)}
    window_s = float(load_model(export_dir)[0].window_s)  # a release file has no train_config
    d = cfg.to_dict()
    d.update(window_s=window_s, domain_loss="off", model={**d["model"], "init_from": str(export_dir),
                                                         "pretrained_dir": None})
    r = train(TrainConfig.from_dict(d), k_shot, None, corpus_roots, domain_vocab=[], prior=class_prior(k_shot),
              out_dir=out_dir, callback=callback, cache=cache)
    return {"export_dir": str(r.export_dir), "steps": r.steps,
            "sets": score_sets(r.export_dir, {name: test}, corpus_roots, tau=tau, cache=cache)}
