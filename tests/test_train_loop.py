"""The training loop end to end on CPU, tiny: resume after a kill, released checkpoints, export."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ser_pipeline.emotions import RELEASED_PRIOR
from ser_pipeline.training.checkpoint import list_checkpoints
from ser_pipeline.model import build_model, load_model
from ser_pipeline.training.loop import train
from train_helpers import DOMAINS, ToneWaves, tiny_config, tiny_table


class Quiet:
    def on_step(self, step, metrics): pass
    def on_epoch(self, epoch, metrics): pass
    def on_params(self, params): pass


def _run(cfg, out, **kw):
    table = tiny_table()
    return train(cfg, table, None, {}, domain_vocab=DOMAINS, prior=RELEASED_PRIOR, out_dir=out,
                 callback=Quiet(), wave_fn=ToneWaves(table), **kw)


def _same(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_resume_after_kill_equals_uninterrupted(tmp_path, capfd):
    full = _run(tiny_config(), tmp_path / "full")
    assert full.export_dir is not None and full.steps > 3
    cfg = tiny_config(checkpoint_every=2)
    killed = _run(cfg, tmp_path / "killed", stop_after_steps=3)  # killed after step 3; last checkpoint at 2
    assert killed.export_dir is None and len(list_checkpoints(tmp_path / "killed" / "checkpoints")) >= 1
    capfd.readouterr()
    resumed = _run(tiny_config(checkpoint_every=2, resume=True), tmp_path / "killed")
    assert "batch 2, step 2" in capfd.readouterr().err  # it did continue from the step-2 checkpoint
    assert resumed.steps == full.steps
    assert _same(resumed.model, full.model)
    model, meta = load_model(full.export_dir)
    assert meta["labels"][0] == "happiness" and len(meta["prior"]) == 8
    assert _same(model, full.model)


def test_frame_loss_paper_domain_mode_and_checkpointing_run(tmp_path):
    r = _run(tiny_config(epochs=1, emotion_loss="frame", domain_loss="paper", grad_checkpointing=True,
                         augment={"enabled": False}), tmp_path)
    assert np.isfinite(r.final_loss) and r.steps >= 1


def test_released_state_dict_loads(tmp_path):
    cfg = tiny_config()
    src = build_model(cfg.model, cfg.window_s, n_domains=0)
    torch.nn.init.normal_(src.head.weight)
    with torch.no_grad():
        src.logit_scaling.fill_(2.5)
    state = {k: v for k, v in src.state_dict().items()}  # encoder.*, head.weight, head.bias, logit_scaling
    assert {k.split(".")[0] for k in state} == {"encoder", "head", "logit_scaling"}
    torch.save(state, tmp_path / "released.pt")
    cfg = tiny_config(model={**cfg.to_dict()["model"], "released_checkpoint": str(tmp_path / "released.pt")})
    model = build_model(cfg.model, cfg.window_s, n_domains=3)
    assert torch.equal(model.head.weight, src.head.weight) and float(model.logit_scaling.detach()) == 2.5
    assert all(torch.equal(a, b) for a, b in zip(model.encoder.parameters(), src.encoder.parameters()))
    torch.save({"head.weight": torch.zeros(8, 16)}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="missing"):
        bad = tiny_config(model={**cfg.to_dict()["model"], "released_checkpoint": str(tmp_path / "bad.pt")})
        build_model(bad.model, bad.window_s)


def test_persistent_workers_train_the_same_weights_as_in_process(tmp_path):
    """Three epochs through 2 persistent DataLoader workers = the same run with no workers."""
    ref = _run(tiny_config(epochs=3), tmp_path / "w0")
    got = _run(tiny_config(epochs=3, num_workers=2, persistent_workers=True, prefetch_factor=2), tmp_path / "w2")
    assert got.steps == ref.steps
    assert _same(got.model, ref.model)
