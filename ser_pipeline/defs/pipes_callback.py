"""The subprocess side of the ``emotion_model`` asset's Dagster Pipes session.

``python -m ser_pipeline.training --config SPEC --callback ser_pipeline.defs.pipes_callback:PipesCallback``
(also under ``torchrun``) reports through this object: every report goes to the Dagster log over
Pipes and, when the asset passed an MLflow run id in the Pipes extras, live into that MLflow run.
The science core only knows the small callback interface; this module is the orchestration shell.
"""

import json
import os
from typing import Any


def _is_rank_zero() -> bool:
    """Global rank 0 (torchrun's ``RANK`` counts across every node), or no torchrun at all."""
    return int(os.environ.get("RANK", "0")) == 0


def _has_pipes_context() -> bool:
    """Whether Dagster launched this process tree with a Pipes session. Under multi-node torchrun
    global rank 0 may run on a node that joined by hand (c10d ranks nodes by host name), which
    has none."""
    from dagster_pipes import PipesEnvVarParamsLoader

    return PipesEnvVarParamsLoader().is_dagster_pipes_process()


class PipesCallback:
    """A :class:`ser_pipeline.training.callbacks.TrainCallback` over Dagster Pipes (+ MLflow).

    Only global rank 0 reports. Without a Pipes session (rank 0 on a node that joined by hand) it
    prints its reports like the entry point's default callback, and the asset reads the result
    from ``result.json`` in the run folder."""

    def __init__(self) -> None:
        self.pipes = None
        self.mlflow = None
        self.run_id = None
        self.fallback = None
        if not _is_rank_zero():
            return  # one reporter per job: rank 0 speaks for all ranks
        if not _has_pipes_context():
            from ser_pipeline.training.callbacks import PrintCallback

            self.fallback = PrintCallback()  # not silent: this node's log gets the reports
            return
        from dagster_pipes import open_dagster_pipes

        self._cm = open_dagster_pipes()
        self.pipes = self._cm.__enter__()
        uri = self.pipes.get_extra("mlflow_tracking_uri") if "mlflow_tracking_uri" in self.pipes.extras else None
        self.run_id = self.pipes.extras.get("mlflow_run_id")
        if uri and self.run_id:
            from mlflow.tracking import MlflowClient

            self.mlflow = MlflowClient(tracking_uri=uri)

    def _metrics(self, metrics: dict[str, float], step: int) -> None:
        if self.mlflow is not None:
            import time

            from mlflow.entities import Metric

            ts = int(time.time() * 1000)
            self.mlflow.log_batch(self.run_id, metrics=[Metric(k, float(v), ts, step) for k, v in metrics.items()
                                                        if v is not None])

    def on_step(self, step: int, metrics: dict[str, float]) -> None:
        if self.fallback is not None:
            self.fallback.on_step(step, metrics)
        if self.pipes is None:
            return
        self._metrics(metrics, step)
        self.pipes.report_custom_message({"kind": "step", "step": step, **metrics})

    def on_epoch(self, epoch: int, metrics: dict[str, float]) -> None:
        if self.fallback is not None:
            self.fallback.on_epoch(epoch, metrics)
        if self.pipes is None:
            return
        self._metrics({f"epoch/{k}": v for k, v in metrics.items()}, epoch)
        self.pipes.log.info(f"epoch {epoch}: {json.dumps(metrics)}")
        self.pipes.report_custom_message({"kind": "epoch", "epoch": epoch, **metrics})

    def on_params(self, params: dict[str, Any]) -> None:
        if self.pipes is None:
            return
        if self.mlflow is not None:
            from mlflow.entities import Param

            items = [Param(k, str(v)[:6000]) for k, v in params.items()]
            for i in range(0, len(items), 100):
                self.mlflow.log_batch(self.run_id, params=items[i: i + 100])
        self.pipes.log.info(f"training {params.get('n_parameters', 0):,} model parameters "
                           f"({params.get('n_trainable_parameters', 0):,} trainable)")

    def on_result(self, result: dict[str, Any]) -> None:
        """The final result (export dir, steps, validation F1) for the asset to return."""
        if self.pipes is None:
            return
        self.pipes.report_custom_message({"kind": "result", **result})

    def close(self) -> None:
        if self.pipes is not None:
            self._cm.__exit__(None, None, None)
            self.pipes = None
