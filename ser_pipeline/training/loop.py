"""The training loop (paper §2.6): packed windows in, an exported model out.

Reads top to bottom like nanoGPT's train.py: distributed setup, seeding, data (Algorithm 1
packing per rank), model, optimizer and schedules, optional resume, then the loop.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ser_pipeline.audio.augment import AugmentConfig, WaveformAugmenter
from ser_pipeline.audio.clips import ClipDataset
from ser_pipeline.audio.specaugment import SpecAugmentConfig
from ser_pipeline.emotions import CLASSES, SOFT_COLUMNS
from ser_pipeline.model.clips import clip_logits
from ser_pipeline.model.build import seeded_model
from ser_pipeline.model.emotion_model import EmotionModel
from ser_pipeline.model.encoder import enable_gradient_checkpointing
from ser_pipeline.model.export import export_model
from ser_pipeline.storage import check_access, is_remote, location
from ser_pipeline.training.callbacks import PrintCallback, TrainCallback
from ser_pipeline.training.checkpoint import (capture_rng, latest_valid_checkpoint, load_checkpoint, restore_rng,
                                              save_checkpoint)
from ser_pipeline.training.config import TrainConfig
from ser_pipeline.training.losses import domain_loss_from_frame_logits, emotion_loss
from ser_pipeline.training.packed_data import PackedWindowStream, window_loader
from ser_pipeline.training.schedule import AccumulationSchedule
from ser_pipeline.training.steps import (LossFn, Optimization, accumulated_steps, amp_dtype, autocast,
                                         compile_encoder, resolve_device, seed_everything, to_device, window_features)
from ser_pipeline.training.training_model import TrainingModel


@dataclasses.dataclass
class TrainResult:
    """What a finished run leaves behind."""

    export_dir: Path | None  # None on ranks other than 0, and for a run stopped early; a UPath on a store
    steps: int
    final_loss: float
    val_micro_f1: float | None
    seconds: float
    model: EmotionModel | None = None  # the trained model (unwrapped from DDP)


@dataclasses.dataclass
class Dist:
    """This process's place in a torchrun/DDP job (world 1 without torchrun)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def master(self) -> bool:
        return self.rank == 0


def setup_distributed(device_name: str) -> tuple[Dist, torch.device]:
    """Detect torchrun (``RANK``/``WORLD_SIZE``), join the group (nccl on CUDA, gloo on CPU)."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return Dist(), resolve_device(device_name)
    d = Dist(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", "0")))
    device = resolve_device(device_name, d.local_rank)
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return d, device


def _table_arrays(table: pd.DataFrame, domain_vocab: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(durations_s (n,), soft labels (n, 8), domain ids (n,), -1 = unknown) of a split table."""
    if "duration_s" in table:
        dur = table["duration_s"].to_numpy(dtype=np.float64)
    elif {"start_s", "end_s"} <= set(table):
        dur = (table["end_s"] - table["start_s"]).to_numpy(dtype=np.float64)
    else:
        raise ValueError("the training table needs duration_s (or start_s/end_s) for packing")
    index = {d: i for i, d in enumerate(domain_vocab)}
    dom = np.array([index.get(d, -1) for d in table.get("domain", pd.Series([None] * len(table)))], dtype=np.int64)
    return dur, table[list(SOFT_COLUMNS)].to_numpy(dtype=np.float32), dom


def train(cfg: TrainConfig, train_table: pd.DataFrame, val_table: pd.DataFrame | None,
          corpus_roots: Mapping[str, str | Path], *, domain_vocab: list[str], prior: np.ndarray,
          out_dir: str | Path, callback: TrainCallback | None = None,
          wave_fn: Callable[[int], np.ndarray] | None = None,
          stop_after_steps: int | None = None, cache=None) -> TrainResult:
    """Train an :class:`EmotionModel` on ``train_table`` and export it to ``out_dir/export``.

    ``out_dir`` may be a URL (``s3://...``): checkpoints and the export are uploaded there and
    ``cfg.resume`` looks for the newest valid checkpoint there.

    Paper §2.3-2.6: Algorithm 1 windows of augmented clips, Whisper encoder + per-frame heads,
    CE_emo with soft targets plus the adversarial domain term, AdamW with a one-cycle cosine
    schedule, gradient accumulation growing by epoch. Under torchrun each rank packs its own
    shard; only rank 0 logs, validates, checkpoints and exports.

    Args:
        train_table: rows of the train split (soft_* columns, domain, corpus, path, duration_s).
        val_table: rows of the validation split (None/empty = no validation).
        corpus_roots: corpus name -> folder (table paths are relative to these).
        domain_vocab: sorted domain keys (ids are positions).
        prior: training class prior, shape (8,).
        wave_fn: row index of ``train_table`` -> float32 (samples,) at 16 kHz; default decodes
            the file the row names.
        cache: optional :class:`ser_pipeline.audio.cache.AudioCache` the default ``wave_fn`` and
            the validation pass read from.
        stop_after_steps: stop right after this optimizer step (and its checkpoint), without
            exporting: how tests simulate a killed run.
    """
    cfg.validate()
    if train_table.empty:
        raise ValueError("the training split is empty: check corpus roots and roles")
    cb = callback or PrintCallback()
    dist, device = setup_distributed(cfg.device)
    seed_everything(cfg.seed)  # same on every rank: identical initial weights
    out_dir = location(out_dir, "out_dir")  # a URL: checkpoints and export go to the store
    ckpt_dir = out_dir / "checkpoints"
    if is_remote(out_dir):
        check_access(out_dir)  # a missing bucket or bad credentials stop here, before any training
    else:
        out_dir.mkdir(parents=True, exist_ok=True)
    train_table = train_table.reset_index(drop=True)

    # --- data: each rank packs its own shard of the duration-sorted table
    durations, soft, domains = _table_arrays(train_table, domain_vocab)
    if wave_fn is None:
        wave_fn = ClipDataset(train_table, corpus_roots, {}, max_seconds=None, cache=cache).wave
    aug_cfg = AugmentConfig.from_dict(cfg.augment)
    stream = PackedWindowStream(durations, soft, domains, wave_fn, batch_size=cfg.batch_size,
                                window_s=cfg.window_s, fill=cfg.fill,
                                augmenter=WaveformAugmenter(aug_cfg) if aug_cfg.enabled else None,
                                seed=cfg.seed, rank=dist.rank, world=dist.world)
    counts = torch.tensor([len(stream.batches(e)) for e in range(cfg.epochs)], dtype=torch.int64)
    if dist.world > 1:  # every rank must run the same number of micro-batches
        torch.distributed.all_reduce(counts, op=torch.distributed.ReduceOp.MIN)
    counts = counts.tolist()
    loader = window_loader(stream, num_workers=cfg.num_workers, prefetch_factor=cfg.prefetch_factor,
                           persistent_workers=cfg.persistent_workers, pin_memory=device.type == "cuda",
                           seed=cfg.seed)
    spec_cfg = SpecAugmentConfig(**cfg.specaugment)

    # --- model, optimizer, schedules
    # seeded right before the build, so evaluation can rebuild these initial weights (initial_model)
    model = seeded_model(cfg.model, cfg.window_s, cfg.seed,
                         n_domains=len(domain_vocab) if cfg.domain_loss != "off" else 0)
    if cfg.grad_checkpointing:
        enable_gradient_checkpointing(model.encoder)
    model.to(device)
    compile_encoder(model, cfg.compile)
    net: torch.nn.Module = TrainingModel(model, cfg.domain_loss, cfg.domain_weight)
    if dist.world > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            net, device_ids=[device.index] if device.type == "cuda" else None)
    accum = AccumulationSchedule(cfg.accumulation)
    dtype = amp_dtype(cfg.amp, device)
    optim = Optimization.build(model, cfg, accum.optimizer_steps(counts), device, dtype)

    # --- resume: model, optimizer, scheduler, scaler, position in the stream, RNG
    epoch0, batch0, step, loss_v, val_acc = 0, 0, 0, float("nan"), None
    if cfg.resume:
        path = latest_valid_checkpoint(ckpt_dir)
        if path is not None:
            ck = load_checkpoint(path, map_location="cpu")
            if ck["classes"] != list(CLASSES):
                raise ValueError(f"{path}: class order {ck['classes']} differs from {list(CLASSES)}")
            model.load_state_dict(ck["model"])
            optim.load_state_dict(ck)
            epoch0, batch0, step, loss_v = ck["epoch"], ck["batch"], ck["step"], ck["loss"]
            restore_rng(ck["rng"])
            if dist.master:
                print(f"resumed from {path} at epoch {epoch0}, batch {batch0}, step {step}", file=sys.stderr)
            ck = None  # free memory

    def checkpoint(epoch: int, batch: int) -> None:
        if dist.master:
            save_checkpoint({"model": model.state_dict(), **optim.state_dict(),
                             "epoch": epoch, "batch": batch, "step": step, "loss": loss_v,
                             "accumulation": accum.as_dict(), "rng": capture_rng(),
                             "config": cfg.to_dict(), "classes": list(CLASSES)},
                            ckpt_dir, step, keep=cfg.keep_checkpoints)

    if dist.master:
        n_params = sum(p.numel() for p in model.parameters())
        cb.on_params({**_flatten(cfg.to_dict()), "n_train": len(train_table), "world_size": dist.world,
                      "n_validation": 0 if val_table is None else len(val_table), "n_domains": len(domain_vocab),
                      "optimizer_steps": optim.total_steps, "n_parameters": n_params,
                      "n_trainable_parameters": sum(p.numel() for p in optim.params)})
        print(f"training {n_params:,} model parameters ({sum(p.numel() for p in optim.params):,} trainable); "
              f"effective batch at epoch 0: {cfg.batch_size * accum.factor(0) * dist.world} windows "
              f"= {cfg.batch_size * accum.factor(0) * dist.world * cfg.window_s:.0f} s of audio per step",
              file=sys.stderr)
    loss_fn = _emotion_loss_fn(net, model, cfg, spec_cfg, device, dtype)
    t0 = time.time()
    for epoch in range(epoch0, cfg.epochs):
        net.train()
        factor, n = accum.factor(epoch), counts[epoch]
        start = batch0 if epoch == epoch0 else 0
        stream.set_epoch(epoch, start, n)
        for b, loss_v, parts in accumulated_steps(net, loader, optim, loss_fn, start=start, n=n, factor=factor,
                                                  seed=cfg.seed, rank=dist.rank, epoch=epoch, world=dist.world):
            step += 1
            if dist.master and step % cfg.log_every == 0:
                cb.on_step(step, {"train/loss": loss_v, "train/lr": optim.lr, **parts,
                                  "train/accumulation": factor})
            if cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
                checkpoint(epoch, b + 1)
            if stop_after_steps is not None and step >= stop_after_steps:
                return TrainResult(None, step, loss_v, None, time.time() - t0, model)
        metrics = {"train/loss": loss_v}
        if dist.master and val_table is not None and not val_table.empty:
            val_acc = validation_accuracy(model, val_table, corpus_roots, cache=cache)
            metrics["validation/micro_f1"] = val_acc
        if dist.master:
            cb.on_epoch(epoch, metrics)
        checkpoint(epoch + 1, 0)
    export_dir = None
    if dist.master:
        # domain_loss "off" builds no domain head: the export must not promise one to load_model
        export_dir = export_model(model, out_dir / "export", task="emotion", prior=prior,
                                  domain_vocab=domain_vocab if cfg.domain_loss != "off" else [],
                                  train_config=cfg.to_dict())
    if dist.world > 1:
        torch.distributed.barrier()
    return TrainResult(export_dir, step, loss_v, val_acc, time.time() - t0, model)


def validation_accuracy(model: EmotionModel, table: pd.DataFrame, corpus_roots: Mapping[str, str | Path], *,
                        cache=None) -> float:
    """Share of clips whose argmax of the mean frame logits (no adjustment, no banning) is the
    argmax of their soft label: micro F1 of single-label data. Evaluation's full protocol
    (banning, logit adjustment, per-class F1) runs on the exported model, outside training."""
    logits = clip_logits(model, table, corpus_roots, cache=cache)
    y_true = table[list(SOFT_COLUMNS)].to_numpy().argmax(1)
    return float(np.mean(logits.argmax(1) == y_true)) if len(y_true) else 0.0


def _emotion_loss_fn(net: torch.nn.Module, model: EmotionModel, cfg: TrainConfig, spec_cfg: SpecAugmentConfig,
                     device: torch.device, dtype: torch.dtype | None) -> LossFn:
    """CE_emo with soft targets (+ the domain term) of one micro-batch (paper §2.6)."""

    def loss_fn(batch: dict[str, torch.Tensor], gen: torch.Generator) -> tuple[torch.Tensor, dict[str, float]]:
        feats = window_features(model, batch, spec_cfg, gen)
        spans = to_device(batch["spans"], device)
        with autocast(device, dtype):
            logits, dom_logits = net(feats)
        emo = emotion_loss(logits, spans, to_device(batch["clip_targets"], device), to_device(batch["targets"], device),
                           to_device(batch["frame_mask"], device), mode=cfg.emotion_loss)
        parts = {"train/ce_emo": float(emo.detach())}
        loss = emo
        if dom_logits is not None:
            term, ce_dom = domain_loss_from_frame_logits(dom_logits, spans, to_device(batch["domain_ids"], device),
                                                         cfg.domain_weight, cfg.domain_loss)
            loss = loss + term
            parts["train/ce_dom"] = float(ce_dom)
        return loss, parts

    return loss_fn


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out
