"""The training loop end to end on CPU, tiny: resume after a kill, released checkpoints, export."""

from __future__ import annotations

import pytest
import torch

from ser_pipeline.emotions import RELEASED_PRIOR
from ser_pipeline.model import build_model, export_model, load_model
from ser_pipeline.training.checkpoint import list_checkpoints, load_checkpoint
from ser_pipeline.training.loop import train
from ser_pipeline.training.steps import seed_everything
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
    return _same_state(a.state_dict(), b.state_dict())


def _same_state(sa, sb):
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


class Steps(Quiet):
    """Keeps what the loop reports for every optimizer step."""

    def __init__(self):
        self.steps: list[tuple[int, dict]] = []

    def on_step(self, step, metrics):
        self.steps.append((step, metrics))


def test_checkpoints_written_at_the_configured_steps_and_loadable(tmp_path):
    """checkpoint_every=2: a file at every even step and at each epoch end, each holding its step,
    the newest holding the final weights."""
    r = _run(tiny_config(checkpoint_every=2, keep_checkpoints=100), tmp_path)
    paths = list_checkpoints(tmp_path / "checkpoints")
    steps = [int(p.stem.split("_")[1]) for p in paths]
    epoch_ends = sorted({ck["step"] for ck in map(load_checkpoint, paths) if ck["batch"] == 0})
    assert r.steps > 4 and epoch_ends[-1] == r.steps
    assert steps == sorted({*range(2, r.steps + 1, 2), *epoch_ends}), steps
    for path, step in zip(paths, steps, strict=True):
        ck = load_checkpoint(path)
        assert ck["step"] == step and ck["classes"][0] == "happiness"
    assert _same_state(load_checkpoint(paths[-1])["model"], r.model.state_dict())


def _first_step(tmp_path, mode: str, **kw):
    """One optimizer step (one micro-batch: accumulation 1 in epoch 0), no augmentation."""
    cb = Steps()
    table = tiny_table()
    cfg = tiny_config(emotion_loss="frame", domain_loss=mode, log_every=1, augment={"enabled": False}, **kw)
    r = train(cfg, table, None, {}, domain_vocab=DOMAINS, prior=RELEASED_PRIOR, out_dir=tmp_path / mode,
              callback=cb, wave_fn=ToneWaves(table), stop_after_steps=1)
    assert [s for s, _ in cb.steps] == [1]
    return r, cb.steps[0][1], cfg


def test_paper_domain_mode_takes_effect_against_grl(tmp_path):
    """paper: L = CE_emo − w_d·CE_dom and the domain head climbs CE_dom; grl: L = CE_emo + CE_dom
    and the head descends it. Same batch, same initial weights: the logged parts are equal, the
    totals differ as the formulas say, and the domain head moves the opposite way."""
    grl, g, cfg = _first_step(tmp_path, "grl")
    paper, p, _ = _first_step(tmp_path, "paper", grad_checkpointing=True)
    assert paper.model.encoder.is_activation_checkpointing and not grl.model.encoder.is_activation_checkpointing
    assert p["train/ce_emo"] == pytest.approx(g["train/ce_emo"], rel=1e-5)
    assert p["train/ce_dom"] == pytest.approx(g["train/ce_dom"], rel=1e-5) and g["train/ce_dom"] > 0.1
    w_d = cfg.domain_weight
    assert g["train/loss"] == pytest.approx(g["train/ce_emo"] + g["train/ce_dom"], rel=1e-5)
    assert p["train/loss"] == pytest.approx(p["train/ce_emo"] - w_d * p["train/ce_dom"], rel=1e-5)
    # the initial weights: the loop seeds, then builds the model
    seed_everything(cfg.seed)
    w0 = build_model(cfg.model, cfg.window_s, n_domains=len(DOMAINS)).state_dict()["domain_head.weight"]
    moved_g = grl.model.state_dict()["domain_head.weight"] - w0
    moved_p = paper.model.state_dict()["domain_head.weight"] - w0
    # AdamW's first step is about lr·sign(gradient) per weight: paper's head gradient is −w_d times grl's
    big = moved_g.abs() > 0.5 * moved_g.abs().max()
    assert big.float().mean() > 0.5
    assert torch.equal(torch.sign(moved_p[big]), -torch.sign(moved_g[big]))
    # the encoder gets −w_d·∇CE_dom in both modes (reversal of scale w_d vs the literal −w_d term)
    enc_g = torch.cat([v.flatten() for k, v in grl.model.state_dict().items() if k.startswith("encoder.")])
    enc_p = torch.cat([v.flatten() for k, v in paper.model.state_dict().items() if k.startswith("encoder.")])
    assert (enc_g - enc_p).abs().max() < 0.2 * moved_g.abs().max()


def test_init_from_an_export_folder(tmp_path):
    """model.init_from: one of our exports gives the encoder and emotion head; the domain head is new."""
    cfg = tiny_config()
    src = build_model(cfg.model, cfg.window_s, n_domains=0)
    torch.nn.init.normal_(src.head.weight)
    export_model(src, tmp_path / "src", prior=RELEASED_PRIOR)
    cfg = tiny_config(model={**cfg.to_dict()["model"], "init_from": str(tmp_path / "src")})
    model = build_model(cfg.model, cfg.window_s, n_domains=3)
    assert torch.equal(model.head.weight, src.head.weight) and model.domain_head.out_features == 3
    assert all(torch.equal(a, b) for a, b in zip(model.encoder.parameters(), src.encoder.parameters(), strict=True))
    model.head.weight.data.zero_()
    assert not torch.equal(model.head.weight, src.head.weight)  # a copy, not the source's tensor
    torch.save({"head.weight": torch.zeros(8, 16)}, tmp_path / "bad.pt")
    bad = tiny_config(model={**cfg.to_dict()["model"], "init_from": str(tmp_path / "bad.pt")})
    with pytest.raises(ValueError, match="bad.pt: no Whisper encoder"):
        build_model(bad.model, bad.window_s)
    both = tiny_config(model={**cfg.to_dict()["model"], "pretrained_dir": str(tmp_path)})
    with pytest.raises(ValueError, match="both name initial weights"):
        build_model(both.model, both.window_s)


def test_persistent_workers_train_the_same_weights_as_in_process(tmp_path):
    """Three epochs through 2 persistent DataLoader workers = the same run with no workers."""
    ref = _run(tiny_config(epochs=3), tmp_path / "w0")
    got = _run(tiny_config(epochs=3, num_workers=2, persistent_workers=True, prefetch_factor=2), tmp_path / "w2")
    assert got.steps == ref.steps
    assert _same(got.model, ref.model)
