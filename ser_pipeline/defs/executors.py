"""Which executor the code location uses, chosen by ``SER_EXECUTOR``.

- unset / ``default``: Dagster's default (multiprocess; ``execution.config.multiprocess`` or
  ``in_process`` in run config), preceded by failing this host's runs whose process is gone and
  freeing their pool slots (:mod:`ser_pipeline.defs.run_guard`);
- ``k8s``: ``dagster_k8s.k8s_job_executor``, one Kubernetes Job per step (deploy/k8s/). The asset
  ``op_tags`` and ``deploy/k8s/k8s_job_executor.yaml`` give ``emotion_model`` its GPU.
"""


import os

import dagster as dg

EXECUTORS = ("default", "k8s")


def executor_from_env() -> dg.ExecutorDefinition:
    """The executor named by ``$SER_EXECUTOR``."""
    name = os.environ.get("SER_EXECUTOR", "default").strip().lower() or "default"
    if name not in EXECUTORS:
        raise ValueError(f"SER_EXECUTOR={name!r}: expected one of {EXECUTORS}")
    if name == "k8s":
        from dagster_k8s import k8s_job_executor  # the `deploy` extra

        return k8s_job_executor
    from ser_pipeline.defs.run_guard import guarded_executor

    return guarded_executor
