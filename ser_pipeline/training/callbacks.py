"""How training reports progress without knowing who listens (Dagster, MLflow, a terminal)."""

from __future__ import annotations

import json
import sys
from typing import Any, Protocol


class TrainCallback(Protocol):
    """Receives metrics from the loop. The Dagster/MLflow side implements this in ``defs/``."""

    def on_step(self, step: int, metrics: dict[str, float]) -> None: ...

    def on_epoch(self, epoch: int, metrics: dict[str, float]) -> None: ...

    def on_params(self, params: dict[str, Any]) -> None: ...


class PrintCallback:
    """Writes one JSON line per report to stderr (the standalone entry point's default)."""

    def on_step(self, step: int, metrics: dict[str, float]) -> None:
        print(json.dumps({"step": step, **metrics}), file=sys.stderr, flush=True)

    def on_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        print(json.dumps({"epoch": epoch, **metrics}), file=sys.stderr, flush=True)

    def on_params(self, params: dict[str, Any]) -> None:
        pass


class CompositeCallback:
    """Fans one report out to several callbacks."""

    def __init__(self, *callbacks: TrainCallback):
        self.callbacks = [c for c in callbacks if c is not None]

    def on_step(self, step: int, metrics: dict[str, float]) -> None:
        for c in self.callbacks:
            c.on_step(step, metrics)

    def on_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        for c in self.callbacks:
            c.on_epoch(epoch, metrics)

    def on_params(self, params: dict[str, Any]) -> None:
        for c in self.callbacks:
            c.on_params(params)
