"""Optimisation schedules (paper §2.6): the one-cycle cosine learning rate and the growing
gradient accumulation ("gradient accumulation to schedule the batch size to increase over time")."""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence

import torch


def one_cycle_cosine(optimizer: torch.optim.Optimizer, max_lr: float, total_steps: int,
                     pct_start: float = 0.1, div_factor: float = 25.0,
                     final_div_factor: float = 1e4) -> torch.optim.lr_scheduler.OneCycleLR:
    """Cosine one-cycle (Smith & Topin 2019): warm up from max_lr/div_factor to max_lr over the first
    ``pct_start`` of ``total_steps`` optimizer steps, then cosine-anneal to
    max_lr/(div_factor·final_div_factor). Step it once per optimizer step."""
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, found {total_steps}")
    # torch divides by each phase's length: keep both phases >= 1 step on very short runs
    # (a run of fewer than 4 steps uses a 4-step cycle and simply stops early).
    total_steps = max(total_steps, 4)
    pct_start = min(max(pct_start, 2.0 / total_steps), (total_steps - 2.0) / total_steps)
    return torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=max_lr, total_steps=total_steps, pct_start=pct_start, anneal_strategy="cos",
        div_factor=div_factor, final_div_factor=final_div_factor, cycle_momentum=False)


class AccumulationSchedule:
    """Gradient-accumulation factor by epoch: ``{0: 1, 2: 2, 4: 4}`` means epochs 0-1 step the
    optimizer every micro-batch, epochs 2-3 every 2, epochs >= 4 every 4.

    The effective batch is ``batch_size · factor · world_size`` windows of L seconds.
    """

    def __init__(self, schedule: Mapping[int, int] | None = None):
        sched = {int(k): int(v) for k, v in (schedule or {0: 1}).items()}
        if 0 not in sched:
            raise ValueError(f"accumulation schedule must start at epoch 0, found epochs {sorted(sched)}")
        bad = {k: v for k, v in sched.items() if v < 1 or k < 0}
        if bad:
            raise ValueError(f"accumulation factors must be >= 1 at epochs >= 0, found {bad}")
        self.epochs = sorted(sched)
        self.factors = [sched[e] for e in self.epochs]

    def factor(self, epoch: int) -> int:
        """Micro-batches per optimizer step in ``epoch`` (0-based)."""
        return self.factors[bisect.bisect_right(self.epochs, epoch) - 1]

    def optimizer_steps(self, micro_batches_per_epoch: Sequence[int] | int, epochs: int | None = None) -> int:
        """Optimizer steps over a run (a last partial accumulation group still steps)."""
        if isinstance(micro_batches_per_epoch, int):
            micro_batches_per_epoch = [micro_batches_per_epoch] * int(epochs or 1)
        return sum(math.ceil(n / self.factor(e)) for e, n in enumerate(micro_batches_per_epoch))

    def as_dict(self) -> dict[int, int]:
        return dict(zip(self.epochs, self.factors, strict=True))
