"""One optimizer step, shared by emotion training (:mod:`.loop`) and the fine-tune (:mod:`.finetune`).

A micro-batch of packed windows becomes log-mel features with SpecAugment over its valid frames
(paper §2.3), goes forward under autocast, and its loss is scaled by the accumulation group's
size; the last micro-batch of a group unscales, clips, steps AdamW (§2.6) and the one-cycle cosine
schedule. The loss itself is the caller's (soft-label CE + domain term, or MSE).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterable, Iterator

import torch

from ser_pipeline.audio.specaugment import SpecAugmentConfig, spec_augment
from ser_pipeline.model.emotion_model import EmotionModel
from ser_pipeline.seeding import seed_everything
from ser_pipeline.training.config import TrainConfig
from ser_pipeline.training.packed_data import mix_seed
from ser_pipeline.training.schedule import one_cycle_cosine

__all__ = ["LossFn", "Optimization", "accumulated_steps", "amp_dtype", "autocast", "compile_encoder", "fused_adamw",
           "resolve_device", "seed_everything", "to_device", "window_features"]

#: (micro-batch, seeded generator for SpecAugment) -> (loss, its parts for logging)
LossFn = Callable[[dict[str, torch.Tensor], torch.Generator], tuple[torch.Tensor, dict[str, float]]]


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto`` -> cuda (this process's local GPU under torchrun) when available, else cpu."""
    if name == "auto":
        return torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def amp_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """bf16 on CUDA for "auto"; fp32 (None) on CPU unless asked."""
    if amp == "off" or (amp == "auto" and device.type != "cuda"):
        return None
    return torch.float16 if amp == "fp16" else torch.bfloat16


def autocast(device: torch.device, dtype: torch.dtype | None):
    """Mixed precision for the forward pass only (features and losses stay in fp32)."""
    return torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None)


def to_device(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``t`` on ``device``; the copy from a pinned host batch is non-blocking on CUDA (it overlaps
    with the forward pass instead of stalling the host)."""
    return t.to(device, non_blocking=device.type == "cuda")


def fused_adamw(device: torch.device) -> bool:
    """Whether AdamW runs as one fused kernel per step: on CUDA only (the CPU keeps the
    per-parameter foreach path, whose numbers the CPU tests were written against)."""
    return device.type == "cuda"


def compile_encoder(model: EmotionModel, enabled: bool) -> None:
    """``torch.compile`` the encoder in place when ``enabled`` (TrainConfig.compile).

    ``nn.Module.compile`` keeps the module and its parameter names, so checkpoints and exports of
    a compiled run load into an uncompiled model. The first steps pay the compile time.
    """
    if enabled:
        model.encoder.compile()


def window_features(model: EmotionModel, batch: dict[str, torch.Tensor], spec_cfg: SpecAugmentConfig,
                    gen: torch.Generator) -> torch.Tensor:
    """Log-mel (B, n_mels, 2·T) of the batch's windows with SpecAugment over valid mel frames
    (2 mel frames per 50 Hz encoder frame), on the model's device."""
    feats = model.features(batch["audio"].numpy())
    mel_mask = batch["frame_mask"].repeat_interleave(2, dim=1)[:, : feats.shape[-1]]
    return spec_augment(feats, spec_cfg, gen, mel_mask)


@dataclasses.dataclass
class Optimization:
    """AdamW over the trainable parameters, the one-cycle cosine schedule and the AMP grad scaler."""

    params: list[torch.nn.Parameter]
    optimizer: torch.optim.AdamW
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    total_steps: int
    grad_clip: float

    @classmethod
    def build(cls, model: torch.nn.Module, cfg: TrainConfig, total_steps: int, device: torch.device,
              dtype: torch.dtype | None) -> Optimization:
        """For ``total_steps`` optimizer steps (``cfg``: lr, weight_decay, pct_start, grad_clip)."""
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay,
                                fused=fused_adamw(device) or None)
        sched = one_cycle_cosine(opt, cfg.lr, max(1, total_steps), pct_start=cfg.pct_start)
        scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
        return cls(params, opt, sched, scaler, total_steps, cfg.grad_clip)

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def backward(self, loss: torch.Tensor, group_size: int) -> None:
        """Accumulate the gradient of ``loss / group_size`` (scaled for fp16)."""
        self.scaler.scale(loss / group_size).backward()

    def step(self) -> None:
        """Unscale, clip, step, update (nanoGPT's order), then advance the schedule."""
        self.scaler.unscale_(self.optimizer)
        if self.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.params, self.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        if self.scheduler.last_epoch < self.total_steps:
            self.scheduler.step()

    def state_dict(self) -> dict:
        return {"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                "scaler": self.scaler.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])


def accumulated_steps(net: torch.nn.Module, loader: Iterable[dict[str, torch.Tensor]], optim: Optimization,
                      loss_fn: LossFn, *, start: int, n: int, factor: int, seed: int, rank: int, epoch: int,
                      world: int = 1) -> Iterator[tuple[int, float, dict[str, float]]]:
    """Run micro-batches ``start <= b < n`` of one epoch, stepping every ``factor`` of them.

    Yields ``(b, loss, parts)`` right after each optimizer step (b = the group's last micro-batch),
    so the caller logs, checkpoints or stops there. Groups are aligned to multiples of ``factor``
    (a resumed epoch continues its group); a last short group still steps. Under DDP, gradients
    are all-reduced only on a group's last micro-batch. SpecAugment draws from a generator seeded
    by (seed, rank, epoch, b), so a resumed run sees the same masks.
    """
    for b, batch in zip(range(start, n), loader, strict=False):
        group_end = min(n, (b // factor + 1) * factor)  # last micro-batch of b's group
        group_size = group_end - (b // factor) * factor
        sync = b + 1 == group_end
        ctx = net.no_sync() if world > 1 and not sync else contextlib.nullcontext()
        with ctx:
            loss, parts = loss_fn(batch, torch.Generator().manual_seed(mix_seed(seed, rank, epoch, b)))
            optim.backward(loss, group_size)
        if sync:
            optim.step()
            yield b, float(loss.detach()), parts
