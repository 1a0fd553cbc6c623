"""DDP under a torchrun-like environment: 2 CPU processes, gloo; ranks pack their own shards and
their weights agree after every optimizer step (DDP averages the gradients)."""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.multiprocessing as mp

pytestmark = pytest.mark.e2e  # 2 spawned DDP processes: not in `make test-fast`


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    from ser_pipeline.emotions import RELEASED_PRIOR
    from ser_pipeline.training.loop import train
    from train_helpers import DOMAINS, ToneWaves, tiny_config, tiny_table

    class Quiet:
        def on_step(self, *a): pass
        def on_epoch(self, *a): pass
        def on_params(self, *a): pass

    table = tiny_table(n=16)
    cfg = tiny_config(epochs=1, accumulation={0: 1})
    r = train(cfg, table, None, {}, domain_vocab=DOMAINS, prior=RELEASED_PRIOR, out_dir=out, callback=Quiet(),
              wave_fn=ToneWaves(table), stop_after_steps=1)
    torch.save({"state": r.model.state_dict(), "steps": r.steps}, os.path.join(out, f"rank{rank}.pt"))
    torch.distributed.destroy_process_group()


def test_two_gloo_ranks_agree_after_a_step(tmp_path):
    import sys

    sys.path.insert(0, os.path.dirname(__file__))  # spawned children import train_helpers
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    a = torch.load(tmp_path / "rank0.pt", weights_only=True)
    b = torch.load(tmp_path / "rank1.pt", weights_only=True)
    assert a["steps"] == b["steps"] == 1
    for k in a["state"]:
        assert torch.equal(a["state"][k], b["state"][k]), k
    # and training did move the weights (the step was not a no-op)
    from ser_pipeline.model import build_model
    from train_helpers import tiny_config

    torch.manual_seed(0)
    cfg = tiny_config(epochs=1)
    init = build_model(cfg.model, cfg.window_s, n_domains=3).state_dict()
    assert not torch.equal(init["head.weight"], a["state"]["head.weight"])
