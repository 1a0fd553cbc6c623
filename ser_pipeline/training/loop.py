"""The training loop (paper §2.6) and the model export.

Minimal walking-skeleton form: each clip padded to the window, emotion loss = soft-label cross
entropy of the mean of the logits over the clip's valid frames, AdamW.
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

from ser_pipeline.audio.features import log_mel
from ser_pipeline.emotions import CLASSES
from ser_pipeline.evaluation.metrics import micro_f1
from ser_pipeline.evaluation.protocol import clip_logits
from ser_pipeline.training.callbacks import PrintCallback, TrainCallback
from ser_pipeline.training.config import TrainConfig
from ser_pipeline.training.data import ClipDataset, collate_clips
from ser_pipeline.training.model import EmotionModel, build_encoder, should_freeze, valid_frames

EXPORT_WEIGHTS = "model.safetensors"
EXPORT_META = "ser_model.json"


@dataclasses.dataclass
class TrainResult:
    """What a finished run leaves behind."""

    export_dir: Path
    steps: int
    final_loss: float
    val_micro_f1: float | None
    seconds: float


def resolve_device(name: str) -> torch.device:
    """``auto`` -> cuda when available, else cpu."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_model(cfg: TrainConfig, n_domains: int = 0) -> EmotionModel:
    """The encoder (local weights or random) plus fresh heads."""
    return EmotionModel(build_encoder(cfg.model, cfg.window_s), n_domains=n_domains, freeze=should_freeze(cfg.model))


def train(cfg: TrainConfig, train_table: pd.DataFrame, val_table: pd.DataFrame | None,
          corpus_roots: Mapping[str, str | Path], *, domain_vocab: list[str], prior: np.ndarray,
          out_dir: str | Path, callback: TrainCallback | None = None) -> TrainResult:
    """Train an :class:`EmotionModel` on ``train_table`` and export it to ``out_dir/export``.

    Args:
        train_table: rows of the train split (soft_* columns, domain, corpus, path, ...).
        val_table: rows of the validation split (None/empty = no validation).
        corpus_roots: corpus name -> folder (table paths are relative to these).
        domain_vocab: sorted domain keys (ids are positions).
        prior: training class prior, shape (8,).
    """
    cfg.validate()
    if train_table.empty:
        raise ValueError("the training split is empty: check corpus roots and roles")
    cb = callback or PrintCallback()
    seed_everything(cfg.seed)
    device = resolve_device(cfg.device)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = build_model(cfg, n_domains=len(domain_vocab)).to(device)
    domain_index = {d: i for i, d in enumerate(domain_vocab)}
    ds = ClipDataset(train_table, corpus_roots, domain_index, max_seconds=cfg.window_s)
    g = torch.Generator().manual_seed(cfg.seed)
    loader = torch.utils.data.DataLoader(ds, batch_size=cfg.batch_size, shuffle=True, generator=g,
                                         collate_fn=collate_clips, num_workers=cfg.num_workers)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    cb.on_params({**_flatten(cfg.to_dict()), "n_train": len(train_table),
                  "n_validation": 0 if val_table is None else len(val_table), "n_domains": len(domain_vocab)})
    t0, step, loss_v, val_f1 = time.time(), 0, float("nan"), None
    for epoch in range(cfg.epochs):
        model.train()
        for waves, soft, _dom, _idx in loader:
            feats = log_mel(waves, window_s=cfg.window_s, n_mels=cfg.model.num_mel_bins, device=device)
            logits, _ = model(feats)
            # mean of the logits over each clip's valid frames (padding never contributes)
            clip = torch.stack([logits[j, : valid_frames(len(w), model.n_frames)].mean(0)
                                for j, w in enumerate(waves)])
            loss = -(soft.to(device) * F.log_softmax(clip.float(), dim=-1)).sum(-1).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            opt.step()
            step += 1
            loss_v = float(loss.detach())
            if step % cfg.log_every == 0:
                cb.on_step(step, {"train/loss": loss_v, "train/lr": opt.param_groups[0]["lr"]})
        metrics = {"train/loss": loss_v}
        if val_table is not None and not val_table.empty:
            logits = clip_logits(model, val_table, corpus_roots, window_s=cfg.window_s, device=device)
            y_true = val_table[[f"soft_{c}" for c in CLASSES]].to_numpy().argmax(1)
            val_f1 = micro_f1(y_true, logits.argmax(1))
            metrics["validation/micro_f1"] = val_f1
        cb.on_epoch(epoch, metrics)
    export_dir = export_model(model, cfg, out_dir / "export", prior=prior, domain_vocab=domain_vocab)
    return TrainResult(export_dir, step, loss_v, val_f1, time.time() - t0)


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
