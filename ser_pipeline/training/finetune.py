"""Fine-tuning the trained encoder on continuous targets (paper §3.2: Hume-Prosody).

The emotion model's heads are removed and a new linear head with one output per target is
initialised; its span-mean output goes through a sigmoid and is trained with mean squared error
against the targets in [0, 1]. Data go through the same Algorithm 1 packing, waveform
augmentation and SpecAugment as emotion training; AdamW with the one-cycle cosine schedule.
(Single process: the fine-tune set is small; DDP lives in :mod:`ser_pipeline.training.loop`.)
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn

from ser_pipeline.audio.augment import AugmentConfig, WaveformAugmenter
from ser_pipeline.audio.features import log_mel
from ser_pipeline.audio.specaugment import SpecAugmentConfig, spec_augment
from ser_pipeline.evaluation.metrics import pearson_per_dim, spearman_per_dim
from ser_pipeline.training.callbacks import PrintCallback, TrainCallback
from ser_pipeline.training.config import TrainConfig
from ser_pipeline.training.data import ClipDataset, collate_clips
from ser_pipeline.training.loop import load_exported, resolve_device, seed_everything
from ser_pipeline.training.losses import span_mean_logits
from ser_pipeline.training.model import EmotionModel, valid_frames
from ser_pipeline.training.packed_data import PackedWindowStream, window_loader
from ser_pipeline.training.schedule import one_cycle_cosine


@dataclasses.dataclass
class FinetuneResult:
    export_dir: Path
    steps: int
    final_loss: float
    devel: dict  # metrics on the development rows (see :func:`regression_metrics`)
    seconds: float
    model: EmotionModel | None = None  # the fine-tuned model (head = one output per target)


def replace_head(model: EmotionModel, n_outputs: int, seed: int) -> EmotionModel:
    """Drop the emotion and domain heads; a fresh seeded Linear(d_model, n_outputs) head."""
    torch.manual_seed(seed)
    model.head = nn.Linear(model.encoder.config.d_model, n_outputs)
    model.domain_head = None
    with torch.no_grad():
        model.logit_scaling.fill_(1.0)
    return model


@torch.no_grad()
def predict_targets(model: EmotionModel, table: pd.DataFrame, corpus_roots: Mapping[str, str | Path], *,
                    window_s: float, device: torch.device, batch_size: int = 16, cache=None) -> np.ndarray:
    """Sigmoid of the mean head output over each clip's valid frames, one clip per window: (N, T)."""
    model.eval()
    ds = ClipDataset(table, corpus_roots, max_seconds=window_s, cache=cache)
    loader = torch.utils.data.DataLoader(ds, batch_size=batch_size, collate_fn=collate_clips)
    out = np.zeros((len(ds), model.head.out_features), dtype=np.float32)
    for waves, _s, _d, idx in loader:
        logits, _ = model(log_mel(waves, window_s=window_s, n_mels=model.encoder.config.num_mel_bins, device=device))
        for j, w in enumerate(waves):
            out[int(idx[j])] = torch.sigmoid(logits[j, : valid_frames(len(w), model.n_frames)].mean(0)).cpu().numpy()
    return out


def regression_metrics(pred: np.ndarray, target: np.ndarray, names: Sequence[str]) -> dict:
    """Pearson r and Spearman ρ per dimension and their means (Table 3's "Corr" is the mean
    Pearson r), and micro F1 of the argmax dimension (= accuracy of the top dimension)."""
    r = pearson_per_dim(pred, target)
    rho = spearman_per_dim(pred, target)
    return {
        "pearson_mean": float(np.nanmean(r)), "spearman_mean": float(np.nanmean(rho)),
        "argmax_micro_f1": float((pred.argmax(1) == target.argmax(1)).mean()) if len(pred) else 0.0,
        "pearson": {n: float(v) for n, v in zip(names, r, strict=True)},
        "spearman": {n: float(v) for n, v in zip(names, rho, strict=True)},
        "n": int(len(pred)),
    }


def finetune_regression(export_dir: str | Path, train_table: pd.DataFrame, devel_table: pd.DataFrame,
                        corpus_roots: Mapping[str, str | Path], target_columns: Sequence[str], cfg: TrainConfig,
                        out_dir: str | Path, *, callback: TrainCallback | None = None, cache=None) -> FinetuneResult:
    """Fine-tune the exported emotion model on ``target_columns`` (values in [0, 1]).

    Args:
        export_dir: the emotion model export (:func:`ser_pipeline.training.loop.export_model`).
        train_table, devel_table: rows with the target columns filled.
        cfg: window, packing, augmentation and optimisation settings (model dims are the export's).
    """
    cfg.validate()
    if train_table.empty:
        raise ValueError("the fine-tune training split is empty")
    cb = callback or PrintCallback()
    device = resolve_device(cfg.device)
    seed_everything(cfg.seed)
    names = [c.removeprefix("hume_") for c in target_columns]
    model, meta = load_exported(export_dir)
    window_s = float(meta["window_s"])
    model = replace_head(model, len(target_columns), cfg.seed).to(device)
    train_table = train_table.reset_index(drop=True)
    targets = train_table[list(target_columns)].to_numpy(dtype=np.float32)
    aug = AugmentConfig.from_dict(cfg.augment)
    stream = PackedWindowStream(train_table["duration_s"].to_numpy(), targets,
                                np.full(len(train_table), -1), ClipDataset(train_table, corpus_roots, cache=cache).wave,
                                batch_size=cfg.batch_size, window_s=window_s, fill=cfg.fill,
                                augmenter=WaveformAugmenter(aug) if aug.enabled else None, seed=cfg.seed)
    counts = [len(stream.batches(e)) for e in range(cfg.epochs)]
    loader = window_loader(stream, num_workers=cfg.num_workers, prefetch_factor=cfg.prefetch_factor,
                           persistent_workers=cfg.persistent_workers, pin_memory=device.type == "cuda",
                           seed=cfg.seed)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = one_cycle_cosine(opt, cfg.lr, max(1, sum(counts)), pct_start=cfg.pct_start)
    spec_cfg = SpecAugmentConfig(**cfg.specaugment)
    cb.on_params({"task": "regression", "targets": ",".join(names), "n_train": len(train_table),
                  "n_devel": len(devel_table), "epochs": cfg.epochs, "lr": cfg.lr, "window_s": window_s})
    t0, step, loss_v, devel = time.time(), 0, float("nan"), {}
    for epoch in range(cfg.epochs):
        model.train()
        stream.set_epoch(epoch, 0, counts[epoch])
        for b, batch in zip(range(counts[epoch]), loader, strict=False):
            feats = log_mel(batch["audio"].numpy(), window_s=window_s, n_mels=model.encoder.config.num_mel_bins,
                            device=device)
            mel_mask = batch["frame_mask"].repeat_interleave(2, dim=1)[:, : feats.shape[-1]]
            feats = spec_augment(feats, spec_cfg, torch.Generator().manual_seed(cfg.seed * 100003 + step), mel_mask)
            logits, _ = model(feats)
            pred = torch.sigmoid(span_mean_logits(logits, batch["spans"].to(device)))
            loss = F.mse_loss(pred, batch["clip_targets"].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            opt.step()
            if sched.last_epoch < sum(counts):
                sched.step()
            step += 1
            loss_v = float(loss.detach())
            if step % cfg.log_every == 0:
                cb.on_step(step, {"finetune/mse": loss_v, "finetune/lr": opt.param_groups[0]["lr"]})
        if not devel_table.empty:
            p = predict_targets(model, devel_table, corpus_roots, window_s=window_s, device=device, cache=cache)
            devel = regression_metrics(p, devel_table[list(target_columns)].to_numpy(dtype=np.float32), names)
        cb.on_epoch(epoch, {"finetune/mse": loss_v, **({"devel/pearson_mean": devel["pearson_mean"]} if devel else {})})
    export = Path(out_dir) / "export"
    export.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
              str(export / "model.safetensors"))
    model.encoder.config.to_json_file(str(export / "whisper_config.json"))
    (export / "ser_finetune.json").write_text(json.dumps({"task": "regression", "targets": names,
                                                          "target_columns": list(target_columns),
                                                          "window_s": window_s, "base_model": str(export_dir),
                                                          "train_config": cfg.to_dict()}, indent=2))
    return FinetuneResult(export, step, loss_v, devel, time.time() - t0, model)


def load_finetuned(export_dir: str | Path, device: str | torch.device = "cpu") -> tuple[EmotionModel, dict]:
    """Load a model written by :func:`finetune_regression` -> (model in eval mode, metadata)."""
    from safetensors.torch import load_file
    from transformers import WhisperConfig
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

    export_dir = Path(export_dir)
    meta = json.loads((export_dir / "ser_finetune.json").read_text())
    model = EmotionModel(WhisperEncoder(WhisperConfig.from_json_file(str(export_dir / "whisper_config.json"))),
                         n_classes=len(meta["targets"]))
    model.load_state_dict(load_file(str(export_dir / "model.safetensors")), strict=True)
    return model.to(device).eval(), meta
