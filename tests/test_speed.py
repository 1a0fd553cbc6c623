"""Issue 17: ``ser predict --fast`` (bf16) close to fp32, vectorized domain keys, the GPU-ready
training path (fused AdamW on CUDA only, the compile option)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from ser_pipeline.cli import main as ser_main
from ser_pipeline.emotions import CLASSES
from ser_pipeline.inference import predict_file
from ser_pipeline.labels.domains import domain_key, domain_keys
from ser_pipeline.model import build_model
from ser_pipeline.model.export import export_model
from ser_pipeline.synth.voice import make_speaker, synthesize
from ser_pipeline.training.config import TrainConfig
from ser_pipeline.training.steps import Optimization, compile_encoder, fused_adamw

META = {"prior": [1 / 8] * 8}


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    cfg = TrainConfig.from_dict({"window_s": 4.0})
    return build_model(cfg.model, cfg.window_s).eval()


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Eight generated utterances, one per emotion, 1.5–6 s at 16 kHz."""
    root = tmp_path_factory.mktemp("clips")
    paths = []
    for i, emotion in enumerate(CLASSES):
        wave = synthesize(emotion, make_speaker(i, f"t/{i}"), 1.5 + 0.6 * i, 16000, seed=i)
        sf.write(root / f"{emotion}.wav", wave, 16000)
        paths.append(root / f"{emotion}.wav")
    return paths


def test_fast_predictions_close_to_fp32(tiny_model, clips):
    """bf16 moves probabilities by bf16's rounding (8-bit mantissa), not more; same top classes."""
    for path in clips:
        ref = predict_file(tiny_model, META, path)
        fast = predict_file(tiny_model, META, path, fast=True)
        assert fast.frame_probs.dtype == np.float32 and fast.frame_probs.shape == ref.frame_probs.shape
        assert np.abs(fast.frame_probs - ref.frame_probs).max() < 0.05, path.name
        assert np.abs(fast.clip_probs - ref.clip_probs).max() < 0.02, path.name
        assert fast.top == ref.top, path.name
        assert not np.array_equal(fast.frame_logits, ref.frame_logits)  # bf16 did run


def test_cli_predict_fast(tiny_model, clips, tmp_path, capsys):
    export = export_model(tiny_model, tmp_path / "export", prior=[1 / 8] * 8)
    for flag in ([], ["--fast"]):
        assert ser_main(["predict", str(clips[3]), "--model", str(export), "--json", *flag]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("{")]
    ref, fast = (pd.Series(json.loads(ln)["clip_probs"]) for ln in lines)
    assert (ref - fast).abs().max() < 0.02 and ref.idxmax() == fast.idxmax()


def test_domain_keys_once_per_domain_with_missing_speakers():
    df = pd.DataFrame({
        "corpus": pd.Series(["ravdess", "ravdess", "msp_podcast", "msp_podcast", "ravdess"], dtype="string"),
        "speaker": pd.Series(["ravdess/03", "ravdess/03", None, "unknown", "ravdess/04"], dtype="string"),
        "language": pd.Series(["en", "en", "en", "en", "en"], dtype="string"),
    }).set_axis([10, 11, 12, 13, 14])
    keys = domain_keys(df)
    expected = [domain_key(c, None if pd.isna(s) else s, lang)
                for c, s, lang in zip(df["corpus"], df["speaker"], df["language"], strict=True)]
    assert list(keys) == expected == ["ravdess|03|en", "ravdess|03|en", "msp_podcast|unknown|en",
                                      "msp_podcast|unknown|en", "ravdess|04|en"]
    assert keys.index.equals(df.index) and keys.dtype == "string"
    assert len(domain_keys(df.iloc[:0])) == 0


def test_fused_adamw_on_cuda_only(tiny_model):
    assert fused_adamw(torch.device("cuda:0")) and not fused_adamw(torch.device("cpu"))
    optim = Optimization.build(tiny_model, TrainConfig(), 10, torch.device("cpu"), None)
    assert not optim.optimizer.defaults["fused"]


def test_compile_option_is_off_by_default_and_validated():
    assert TrainConfig().compile is False
    assert TrainConfig.from_dict({"compile": True}).compile is True


@pytest.mark.slow
def test_compiled_encoder_trains_a_step_with_unchanged_parameter_names():
    torch.manual_seed(0)
    cfg = TrainConfig.from_dict({"window_s": 1.0, "compile": True, "model": {"d_model": 16, "encoder_layers": 1,
                                 "encoder_attention_heads": 1, "encoder_ffn_dim": 32}})
    model = build_model(cfg.model, cfg.window_s)
    names = list(model.state_dict())
    compile_encoder(model, cfg.compile)
    optim = Optimization.build(model, cfg, 2, torch.device("cpu"), None)
    feats = model.features([np.zeros(16000, dtype=np.float32)] * 2)
    before = model.head.weight.detach().clone()
    loss = model(feats)[0].float().logsumexp(-1).mean()
    optim.backward(loss, 1)
    optim.step()
    assert torch.isfinite(loss) and not torch.equal(before, model.head.weight)
    assert list(model.state_dict()) == names  # checkpoints of a compiled run load into a plain model
