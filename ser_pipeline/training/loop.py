"""The training loop (paper §2.6) and the model export.

Reads top to bottom like nanoGPT's train.py: distributed setup, seeding, data (Algorithm 1
packing per rank), model, optimizer and schedules, optional resume, then the loop.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import random
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors.torch import save_file

from ser_pipeline.audio.augment import AugmentConfig, WaveformAugmenter
from ser_pipeline.audio.features import log_mel
from ser_pipeline.audio.specaugment import SpecAugmentConfig, spec_augment
from ser_pipeline.emotions import CLASSES, SOFT_COLUMNS
from ser_pipeline.evaluation.metrics import micro_f1
from ser_pipeline.evaluation.protocol import clip_logits
from ser_pipeline.training.callbacks import PrintCallback, TrainCallback
from ser_pipeline.training.config import TrainConfig
from ser_pipeline.training.checkpoint import (capture_rng, latest_valid_checkpoint, load_checkpoint, restore_rng,
                                              save_checkpoint)
from ser_pipeline.training.data import ClipDataset
from ser_pipeline.training.losses import domain_loss_from_frame_logits, emotion_loss
from ser_pipeline.training.model import (EmotionModel, TrainingModel, build_encoder, enable_gradient_checkpointing,
                                         load_released, should_freeze)
from ser_pipeline.training.packed_data import PackedWindowStream, mix_seed, window_loader
from ser_pipeline.training.schedule import AccumulationSchedule, one_cycle_cosine

EXPORT_WEIGHTS = "model.safetensors"
EXPORT_META = "ser_model.json"


@dataclasses.dataclass
class TrainResult:
    """What a finished run leaves behind."""

    export_dir: Path | None  # None on ranks other than 0, and for a run stopped early
    steps: int
    final_loss: float
    val_micro_f1: float | None
    seconds: float
    model: EmotionModel | None = None  # the trained model (unwrapped from DDP)


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto`` -> cuda (this process's local GPU under torchrun) when available, else cpu."""
    if name == "auto":
        return torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_model(cfg: TrainConfig, n_domains: int = 0) -> EmotionModel:
    """The encoder (local weights or random) plus fresh heads; a released checkpoint on top."""
    model = EmotionModel(build_encoder(cfg.model, cfg.window_s), n_domains=n_domains, freeze=should_freeze(cfg.model))
    if cfg.model.released_checkpoint:
        load_released(model, cfg.model.released_checkpoint)
    return model


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


def _amp_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """bf16 on CUDA for "auto"; fp32 (None) on CPU unless asked."""
    if amp == "off" or (amp == "auto" and device.type != "cuda"):
        return None
    return torch.float16 if amp == "fp16" else torch.bfloat16


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
    out_dir = Path(out_dir)
    ckpt_dir = out_dir / "checkpoints"
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
    model = build_model(cfg, n_domains=len(domain_vocab) if cfg.domain_loss != "off" else 0)
    if cfg.grad_checkpointing:
        enable_gradient_checkpointing(model)
    model.to(device)
    net: torch.nn.Module = TrainingModel(model, cfg.domain_loss, cfg.domain_weight)
    if dist.world > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            net, device_ids=[device.index] if device.type == "cuda" else None)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    accum = AccumulationSchedule(cfg.accumulation)
    total_steps = accum.optimizer_steps(counts)
    sched = one_cycle_cosine(opt, cfg.lr, max(1, total_steps), pct_start=cfg.pct_start)
    amp_dtype = _amp_dtype(cfg.amp, device)
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)

    # --- resume: model, optimizer, scheduler, scaler, position in the stream, RNG
    epoch0, batch0, step, loss_v, val_f1 = 0, 0, 0, float("nan"), None
    if cfg.resume:
        path = latest_valid_checkpoint(ckpt_dir)
        if path is not None:
            ck = load_checkpoint(path, map_location="cpu")
            if ck["classes"] != list(CLASSES):
                raise ValueError(f"{path}: class order {ck['classes']} differs from {list(CLASSES)}")
            model.load_state_dict(ck["model"])
            opt.load_state_dict(ck["optimizer"])
            sched.load_state_dict(ck["scheduler"])
            scaler.load_state_dict(ck["scaler"])
            epoch0, batch0, step, loss_v = ck["epoch"], ck["batch"], ck["step"], ck["loss"]
            restore_rng(ck["rng"])
            if dist.master:
                print(f"resumed from {path} at epoch {epoch0}, batch {batch0}, step {step}", file=sys.stderr)
            ck = None  # free memory

    def checkpoint(epoch: int, batch: int) -> None:
        if dist.master:
            save_checkpoint({"model": model.state_dict(), "optimizer": opt.state_dict(),
                             "scheduler": sched.state_dict(), "scaler": scaler.state_dict(),
                             "epoch": epoch, "batch": batch, "step": step, "loss": loss_v,
                             "accumulation": accum.as_dict(), "rng": capture_rng(),
                             "config": cfg.to_dict(), "classes": list(CLASSES)},
                            ckpt_dir, step, keep=cfg.keep_checkpoints)

    if dist.master:
        cb.on_params({**_flatten(cfg.to_dict()), "n_train": len(train_table), "world_size": dist.world,
                      "n_validation": 0 if val_table is None else len(val_table), "n_domains": len(domain_vocab),
                      "optimizer_steps": total_steps})
        print(f"effective batch at epoch 0: {cfg.batch_size * accum.factor(0) * dist.world} windows "
              f"= {cfg.batch_size * accum.factor(0) * dist.world * cfg.window_s:.0f} s of audio per step",
              file=sys.stderr)
    t0 = time.time()
    for epoch in range(epoch0, cfg.epochs):
        net.train()
        factor, n = accum.factor(epoch), counts[epoch]
        start = batch0 if epoch == epoch0 else 0
        stream.set_epoch(epoch, start, n)
        for b, batch in zip(range(start, n), loader, strict=False):
            group_end = min(n, (b // factor + 1) * factor)  # last micro-batch of b's group
            group_size = group_end - (b // factor) * factor
            sync = b + 1 == group_end
            ctx = net.no_sync() if dist.world > 1 and not sync else contextlib.nullcontext()
            with ctx:
                loss, parts = _micro_step_loss(net, batch, cfg, spec_cfg, device, amp_dtype,
                                               torch.Generator().manual_seed(mix_seed(cfg.seed, dist.rank, epoch, b)))
                scaler.scale(loss / group_size).backward()
            if not sync:
                continue
            # unscale, clip, step, update (nanoGPT order)
            scaler.unscale_(opt)
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            scaler.step(opt)
            scaler.update()
            opt.zero_grad(set_to_none=True)
            if sched.last_epoch < total_steps:
                sched.step()
            step += 1
            loss_v = float(loss.detach())
            if dist.master and step % cfg.log_every == 0:
                cb.on_step(step, {"train/loss": loss_v, "train/lr": opt.param_groups[0]["lr"], **parts,
                                  "train/accumulation": factor})
            if cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
                checkpoint(epoch, b + 1)
            if stop_after_steps is not None and step >= stop_after_steps:
                return TrainResult(None, step, loss_v, None, time.time() - t0, model)
        metrics = {"train/loss": loss_v}
        if dist.master and val_table is not None and not val_table.empty:
            logits = clip_logits(model, val_table, corpus_roots, window_s=cfg.window_s, device=device, cache=cache)
            y_true = val_table[[f"soft_{c}" for c in CLASSES]].to_numpy().argmax(1)
            val_f1 = micro_f1(y_true, logits.argmax(1))
            metrics["validation/micro_f1"] = val_f1
        if dist.master:
            cb.on_epoch(epoch, metrics)
        checkpoint(epoch + 1, 0)
    export_dir = None
    if dist.master:
        export_dir = export_model(model, cfg, out_dir / "export", prior=prior, domain_vocab=domain_vocab)
    if dist.world > 1:
        torch.distributed.barrier()
    return TrainResult(export_dir, step, loss_v, val_f1, time.time() - t0, model)


def _micro_step_loss(net: torch.nn.Module, batch: dict[str, torch.Tensor], cfg: TrainConfig,
                     spec_cfg: SpecAugmentConfig, device: torch.device, amp_dtype: torch.dtype | None,
                     gen: torch.Generator) -> tuple[torch.Tensor, dict[str, float]]:
    """Forward one micro-batch; returns (total loss, its parts for logging)."""
    feats = log_mel(batch["audio"].numpy(), window_s=cfg.window_s, n_mels=cfg.model.num_mel_bins, device=device)
    # SpecAugment over valid mel frames only (2 mel frames per encoder frame)
    mel_mask = batch["frame_mask"].repeat_interleave(2, dim=1)[:, : feats.shape[-1]]
    feats = spec_augment(feats, spec_cfg, gen, mel_mask)
    spans = batch["spans"].to(device)
    with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
        logits, dom_logits = net(feats)
    emo = emotion_loss(logits, spans, batch["clip_targets"].to(device), batch["targets"].to(device),
                       batch["frame_mask"].to(device), mode=cfg.emotion_loss)
    parts = {"train/ce_emo": float(emo.detach())}
    loss = emo
    if dom_logits is not None:
        term, ce_dom = domain_loss_from_frame_logits(dom_logits, spans, batch["domain_ids"].to(device),
                                                     cfg.domain_weight, cfg.domain_loss)
        loss = loss + term
        parts["train/ce_dom"] = float(ce_dom)
    return loss, parts


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def export_model(model: EmotionModel, cfg: TrainConfig, export_dir: str | Path, *, prior: np.ndarray,
                 domain_vocab: list[str]) -> Path:
    """Write safetensors weights + the encoder config + label order + training prior."""
    export_dir = Path(export_dir)
    export_dir.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(export_dir / EXPORT_WEIGHTS))
    model.encoder.config.to_json_file(str(export_dir / "whisper_config.json"))
    meta = {
        "labels": list(CLASSES),
        "prior": [float(p) for p in prior],
        "window_s": cfg.window_s,
        "n_domains": len(domain_vocab),
        "domain_vocab": list(domain_vocab),
        "train_config": cfg.to_dict(),
    }
    (export_dir / EXPORT_META).write_text(json.dumps(meta, indent=2))
    return export_dir


def load_exported(export_dir: str | Path, device: str | torch.device = "cpu") -> tuple[EmotionModel, dict]:
    """Load a model written by :func:`export_model` -> (model in eval mode, metadata)."""
    from safetensors.torch import load_file
    from transformers import WhisperConfig
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

    export_dir = Path(export_dir)
    meta = json.loads((export_dir / EXPORT_META).read_text())
    if meta.get("labels") != list(CLASSES):
        raise ValueError(f"{export_dir}: label order {meta.get('labels')} differs from {list(CLASSES)}")
    wcfg = WhisperConfig.from_json_file(str(export_dir / "whisper_config.json"))
    model = EmotionModel(WhisperEncoder(wcfg), n_domains=int(meta.get("n_domains", 0)))
    state = load_file(str(export_dir / EXPORT_WEIGHTS))
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f"{export_dir}: weights do not match the model: missing {missing[:5]}, "
                         f"unexpected {unexpected[:5]}")
    return model.to(device).eval(), meta
