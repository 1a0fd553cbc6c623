"""How the training entry point is launched: one process, torchrun on one node, or torchrun on
several nodes that meet at a c10d rendezvous.

The Dagster asset launches the first node; every other node runs :func:`node_command` of the same
spec (the spec file carries the launch settings under ``launch:`` and must be readable from every
node). Plain Python: no torch import, so the ``ser`` command can print a node's command.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from typing import Any

#: the training entry point every rank runs
ENTRY_MODULE = "ser_pipeline.training"
#: what global rank 0 writes into the spec's out_dir when it ends: the run's result summary (JSON),
#: for a launcher whose own node did not get rank 0 (multi-node c10d ranks nodes by host name)
RESULT_FILE = "result.json"
_ENDPOINT = re.compile(r"^(?P<host>\[[0-9a-fA-F:.]+\]|[^\s:/\[\]]+):(?P<port>\d{1,5})$")


@dataclasses.dataclass(frozen=True)
class Launch:
    """Processes and nodes of one training job (``--nnodes 1`` is a single machine)."""

    nproc_per_node: int = 1  # processes per node (one per GPU); > 1 or nnodes > 1: torchrun
    nnodes: int = 1  # machines of the job; > 1: c10d rendezvous at rdzv_endpoint
    rdzv_endpoint: str = ""  # HOST:PORT every node reaches; the node with that address hosts the rendezvous store
    rdzv_id: str = ""  # the job's rendezvous id, the same on every node (the asset uses its Dagster run id)
    rdzv_timeout_s: int = 900  # seconds a node waits for the others to join (and to reach the endpoint)

    def validate(self, prefix: str = "") -> None:
        """Refuse values torchrun would fail on later, with a ``ValueError`` naming the key
        (``prefix`` + field name, e.g. ``emotion_model.rdzv_endpoint``)."""
        for name in ("nproc_per_node", "nnodes", "rdzv_timeout_s"):
            if getattr(self, name) < 1:
                raise ValueError(f"{prefix}{name} must be >= 1, found {getattr(self, name)}")
        if self.nnodes == 1:
            return
        if not self.rdzv_endpoint:
            raise ValueError(f"{prefix}rdzv_endpoint is required when nnodes > 1 (HOST:PORT of the c10d "
                             "rendezvous every node reaches)")
        m = _ENDPOINT.match(self.rdzv_endpoint)
        if not m or not 0 < int(m["port"]) < 65536:
            raise ValueError(f"{prefix}rdzv_endpoint must be HOST:PORT, found {self.rdzv_endpoint!r}")
        if not self.rdzv_id:
            raise ValueError(f"{prefix}rdzv_id is required when nnodes > 1 (the same id on every node)")

    @property
    def distributed(self) -> bool:
        """Whether the job runs under torchrun (several processes or nodes)."""
        return self.nproc_per_node > 1 or self.nnodes > 1

    def torchrun_args(self) -> list[str]:
        """torchrun's arguments (after ``python -m torch.distributed.run``), before the entry point."""
        if self.nnodes == 1:
            return ["--standalone", f"--nproc_per_node={self.nproc_per_node}"]
        # join_timeout: how long the rendezvous waits for all nodes; read_timeout: how long a node
        # keeps trying to reach the store at the endpoint (a node may start before the host node)
        return ["--nnodes", str(self.nnodes), "--nproc_per_node", str(self.nproc_per_node),
                "--rdzv_backend", "c10d", "--rdzv_endpoint", self.rdzv_endpoint, "--rdzv_id", self.rdzv_id,
                "--rdzv_conf", f"join_timeout={self.rdzv_timeout_s},read_timeout={self.rdzv_timeout_s}"]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Launch:
        """From a spec's ``launch:`` block (absent: one process); unknown keys are a ``ValueError``."""
        d = dict(d or {})
        unknown = sorted(set(d) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"training spec launch: unknown keys {unknown}")
        return cls(**d)


def node_command(spec_path: str, launch: Launch, *, python: str = sys.executable, via: str | None = None,
                 entry_args: list[str] | None = None) -> list[str]:
    """The command one node runs for ``launch``: ``python -m torch.distributed.run ... -m
    ser_pipeline.training --config SPEC`` when distributed, else the entry point itself.

    ``via``: a module that runs each ``-m MODULE`` (``python -m VIA MODULE ...``, e.g. the
    die-with-parent wrapper); ``entry_args`` follow ``--config SPEC``."""
    def module(name: str) -> list[str]:
        return ["-m", via, name] if via else ["-m", name]

    entry = [*module(ENTRY_MODULE), "--config", spec_path, *(entry_args or [])]
    if not launch.distributed:
        return [python, *entry]
    return [python, *module("torch.distributed.run"), *launch.torchrun_args(), *entry]
