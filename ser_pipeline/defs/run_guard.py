"""A killed run never blocks the next one.

A run killed with SIGKILL stays STARTED in the instance and keeps its ``gpu`` pool slot, so every
later training step waits on "Step still blocked by limit for pool gpu". Dagster's daemon frees
such slots (``run_monitoring`` in dagster.yaml), but ``dagster job execute`` runs without one.
So each run records which process runs it (host and pid tags), and at its start marks FAILED
the runs on this host whose process is gone, and frees the pool slots of finished runs.
"""

import os
import socket

import dagster as dg

from ser_pipeline.procs import die_with_parent, process_alive

HOST_TAG = "ser/host"
PID_TAG = "ser/pid"
#: set by the run process for the step processes it starts (multiprocess executor)
RUN_PID_ENV = "SER_RUN_PID"
_ACTIVE = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]
_FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]


def record_run_process(instance: dg.DagsterInstance, run_id: str) -> None:
    """Tag run ``run_id`` with the host and pid of this (its orchestrating) process."""
    instance.add_run_tags(run_id, {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())})


def reap_dead_runs(instance: dg.DagsterInstance, current_run_id: str | None = None, log=None) -> list[str]:
    """Mark FAILED the active runs recorded on this host whose process no longer exists, and free
    the pool slots still held by finished runs (these included). Returns the run ids marked."""
    host = socket.gethostname()
    reaped = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=_ACTIVE, tags={HOST_TAG: host})):
        pid = int(run.tags.get(PID_TAG, "0") or 0)
        if run.run_id == current_run_id or not pid or process_alive(pid):
            continue
        message = (f"run {run.run_id}: its process {pid} on {host} is gone (killed); marked failed"
                   + (f" by run {current_run_id}" if current_run_id else ""))
        instance.report_run_failed(run, message=message)
        if log is not None:
            log.warning(message)
        reaped.append(run.run_id)
    free_finished_slots(instance, log)
    return reaped


def free_finished_slots(instance: dg.DagsterInstance, log=None) -> list[str]:
    """Free the concurrency-pool slots still held by runs that have finished. Returns their ids."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return []
    holders = list(storage.get_concurrency_run_ids())
    if not holders:
        return []
    done = [r.run_id for r in instance.get_runs(filters=dg.RunsFilter(run_ids=holders, statuses=_FINISHED))]
    for run_id in done:
        storage.free_concurrency_slots_for_run(run_id)
        if log is not None:
            log.info(f"freed the pool slots held by finished run {run_id}")
    return done


def die_with_run() -> None:
    """In a step process started by a run's multiprocess executor: end it (SIGTERM) when the run
    process dies, so its work (and the Pipes children, which die with it) stops too. A no-op in
    the run process itself (in-process executor)."""
    import signal

    run_pid = os.environ.get(RUN_PID_ENV)
    if run_pid and run_pid.isdigit() and int(run_pid) == os.getppid() and int(run_pid) != os.getpid():
        die_with_parent(int(run_pid), signal.SIGTERM)


class _GuardedExecutor(dg.Executor):
    """Dagster's executor, preceded by :func:`record_run_process` and :func:`reap_dead_runs`."""

    def __init__(self, inner: dg.Executor):
        self._inner = inner

    @property
    def retries(self):
        return self._inner.retries

    @property
    def step_dependency_config(self):
        return self._inner.step_dependency_config

    def execute(self, plan_context, execution_plan):
        record_run_process(plan_context.instance, plan_context.run_id)
        reap_dead_runs(plan_context.instance, plan_context.run_id, plan_context.log)
        os.environ[RUN_PID_ENV] = str(os.getpid())  # inherited by the step processes
        yield from self._inner.execute(plan_context, execution_plan)


@dg.executor(name="guarded_executor", config_schema=dg.multi_or_in_process_executor.config_schema,
             requirements=dg.multi_or_in_process_executor.get_requirements)
def guarded_executor(init_context):
    """Dagster's default executor (``multiprocess`` or ``in_process`` in run config), which first
    fails runs of this host whose process is gone and frees the pool slots they held."""
    return _GuardedExecutor(dg.multi_or_in_process_executor.executor_creation_fn(init_context))
