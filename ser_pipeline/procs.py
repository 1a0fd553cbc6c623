"""Processes that must not outlive the one that started them (scan workers, training children).

A SIGKILL gives a process no chance to stop its children, and a child blocked on a queue or
busy training would otherwise run on as an orphan (holding a GPU, writing an export nobody
records). :func:`die_with_parent` ends the calling process when its parent goes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time

#: seconds between two checks of the watchdog that the parent is still alive
WATCHDOG_EVERY_S = 1.0
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host (a zombie counts until it is reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def die_with_parent(parent_pid: int | None = None, sig: int = signal.SIGKILL) -> None:
    """Send ``sig`` to this process when ``parent_pid`` (default: the current parent) dies.

    On Linux the kernel delivers ``sig`` when the parent exits (``prctl(PR_SET_PDEATHSIG)``,
    armed only when ``parent_pid`` is the process that forked us, since the kernel watches that
    one); a daemon thread that checks every :data:`WATCHDOG_EVERY_S` whether the parent is still
    there covers other systems, re-parenting, and a parent that is not the forking process.
    ``SIGTERM`` lets Python-level handlers run (training); ``SIGKILL`` suits workers with
    nothing to clean up.
    """
    parent_pid = os.getppid() if parent_pid is None else parent_pid
    if sys.platform.startswith("linux") and os.getppid() == parent_pid:
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    first_parent = os.getppid()

    def parent_alive() -> bool:
        # re-parented: the process that started us is gone
        return os.getppid() == first_parent and process_alive(parent_pid)

    def die() -> None:
        os.kill(os.getpid(), sig)
        time.sleep(10)  # a handler that ignores sig: do not linger after all
        os._exit(1)

    if not parent_alive():  # died between fork and here, before the death signal was armed
        die()

    def watch() -> None:
        while parent_alive():
            time.sleep(WATCHDOG_EVERY_S)
        die()

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def run_module_with_parent(argv: list[str]) -> None:
    """``python -m ser_pipeline.procs MODULE ARGS...``: run ``python -m MODULE ARGS...`` in this
    process after arming :func:`die_with_parent` with SIGTERM, so a launcher that is killed
    (a Dagster run under SIGKILL) takes the command with it. Used for the training entry point
    and for ``torchrun`` (whose ranks run the entry point the same way)."""
    import runpy

    if not argv or argv[0].startswith("-"):
        raise SystemExit("usage: python -m ser_pipeline.procs MODULE [ARGS...]")
    die_with_parent(os.getppid(), signal.SIGTERM)
    sys.argv = [argv[0], *argv[1:]]
    runpy.run_module(argv[0], run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    run_module_with_parent(sys.argv[1:])
