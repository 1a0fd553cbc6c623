"""Fine-tuning the trained encoder on continuous targets (paper §3.2: Hume-Prosody).

The emotion model's heads are removed and a new linear head with one output per target is
initialised; its span-mean output goes through a sigmoid and is trained with mean squared error
against the targets in [0, 1]. Data go through the same Algorithm 1 packing, waveform
augmentation and SpecAugment as emotion training, and the same optimizer step
(:mod:`ser_pipeline.training.steps`: AMP, gradient accumulation, AdamW with the one-cycle cosine
schedule). Single process: the fine-tune set is small.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from ser_pipeline.audio.augment import AugmentConfig, WaveformAugmenter
from ser_pipeline.audio.clips import ClipDataset
from ser_pipeline.audio.specaugment import SpecAugmentConfig
from ser_pipeline.model.clips import clip_sigmoid
from ser_pipeline.model.emotion_model import EmotionModel, span_mean_logits
from ser_pipeline.model.export import export_model, load_model
from ser_pipeline.storage import location
from ser_pipeline.training.callbacks import PrintCallback, TrainCallback
from ser_pipeline.training.config import TrainConfig
from ser_pipeline.training.packed_data import PackedWindowStream, window_loader
from ser_pipeline.training.schedule import AccumulationSchedule
from ser_pipeline.training.steps import (LossFn, Optimization, accumulated_steps, amp_dtype, autocast,
                                         resolve_device, seed_everything, to_device, window_features)

#: (predictions (N, T), targets (N, T), target names) -> metrics dict with a "pearson_mean" entry
DevelScorer = Callable[[np.ndarray, np.ndarray, Sequence[str]], dict]


@dataclasses.dataclass
class FinetuneResult:
    export_dir: Path
    steps: int
    final_loss: float
    devel: dict  # what ``devel_scorer`` returned on the development rows after the last epoch
    seconds: float
    model: EmotionModel | None = None  # the fine-tuned model (head = one output per target)


def finetune_regression(export_dir: str | Path, train_table: pd.DataFrame, devel_table: pd.DataFrame,
                        corpus_roots: Mapping[str, str | Path], target_columns: Sequence[str], cfg: TrainConfig,
                        out_dir: str | Path, *, callback: TrainCallback | None = None, cache=None,
                        devel_scorer: DevelScorer | None = None) -> FinetuneResult:
    """Fine-tune the exported emotion model on ``target_columns`` (values in [0, 1]).

    Args:
        export_dir: the emotion model export (:func:`ser_pipeline.model.export.export_model`).
        train_table, devel_table: rows with the target columns filled.
        cfg: packing, augmentation and optimisation settings. The window and the encoder are the
            export's (``cfg.window_s`` and ``cfg.model`` are not used).
        devel_scorer: scores the devel predictions after each epoch (e.g.
            :func:`ser_pipeline.evaluation.metrics.regression_metrics`); None = no scoring.
    """
    cfg.validate()
    if train_table.empty:
        raise ValueError("the fine-tune training split is empty")
    cb = callback or PrintCallback()
    device = resolve_device(cfg.device)
    seed_everything(cfg.seed)
    names = [c.removeprefix("hume_") for c in target_columns]
    model, _meta = load_model(export_dir, device=device)
    model.replace_head(len(target_columns), cfg.seed)
    train_table = train_table.reset_index(drop=True)
    targets = train_table[list(target_columns)].to_numpy(dtype=np.float32)
    aug = AugmentConfig.from_dict(cfg.augment)
    stream = PackedWindowStream(train_table["duration_s"].to_numpy(), targets,
                                np.full(len(train_table), -1), ClipDataset(train_table, corpus_roots, cache=cache).wave,
                                batch_size=cfg.batch_size, window_s=model.window_s, fill=cfg.fill,
                                augmenter=WaveformAugmenter(aug) if aug.enabled else None, seed=cfg.seed)
    counts = [len(stream.batches(e)) for e in range(cfg.epochs)]
    loader = window_loader(stream, num_workers=cfg.num_workers, prefetch_factor=cfg.prefetch_factor,
                           persistent_workers=cfg.persistent_workers, pin_memory=device.type == "cuda",
                           seed=cfg.seed)
    accum = AccumulationSchedule(cfg.accumulation)
    dtype = amp_dtype(cfg.amp, device)
    optim = Optimization.build(model, cfg, accum.optimizer_steps(counts), device, dtype)
    loss_fn = _regression_loss_fn(model, SpecAugmentConfig(**cfg.specaugment), device, dtype)
    cb.on_params({"task": "regression", "targets": ",".join(names), "n_train": len(train_table),
                  "n_devel": len(devel_table), "epochs": cfg.epochs, "lr": cfg.lr, "window_s": model.window_s})
    t0, step, loss_v, devel = time.time(), 0, float("nan"), {}
    for epoch in range(cfg.epochs):
        model.train()
        stream.set_epoch(epoch, 0, counts[epoch])
        for _b, loss_v, _parts in accumulated_steps(model, loader, optim, loss_fn, start=0, n=counts[epoch],
                                                    factor=accum.factor(epoch), seed=cfg.seed, rank=0, epoch=epoch):
            step += 1
            if step % cfg.log_every == 0:
                cb.on_step(step, {"finetune/mse": loss_v, "finetune/lr": optim.lr})
        if devel_scorer is not None and not devel_table.empty:
            p = clip_sigmoid(model, devel_table, corpus_roots, cache=cache)
            devel = devel_scorer(p, devel_table[list(target_columns)].to_numpy(dtype=np.float32), names)
        cb.on_epoch(epoch, {"finetune/mse": loss_v, **({"devel/pearson_mean": devel["pearson_mean"]} if devel else {})})
    export = export_model(model, location(out_dir) / "export", task="regression", labels=names,
                          target_columns=list(target_columns), base_model=str(export_dir),
                          train_config=cfg.to_dict())
    return FinetuneResult(export, step, loss_v, devel, time.time() - t0, model)


def _regression_loss_fn(model: EmotionModel, spec_cfg: SpecAugmentConfig, device: torch.device,
                        dtype: torch.dtype | None) -> LossFn:
    """MSE between the sigmoid of each clip's span-mean head output and its targets."""

    def loss_fn(batch: dict[str, torch.Tensor], gen: torch.Generator) -> tuple[torch.Tensor, dict[str, float]]:
        feats = window_features(model, batch, spec_cfg, gen)
        with autocast(device, dtype):
            logits, _ = model(feats)
        pred = torch.sigmoid(span_mean_logits(logits, to_device(batch["spans"], device)))
        loss = F.mse_loss(pred, to_device(batch["clip_targets"], device))
        return loss, {"finetune/mse": float(loss.detach())}

    return loss_fn
