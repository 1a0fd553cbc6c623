"""The model layer: the model owns its window and mel size, pretrained weights with a shorter
window, one export format for emotion and regression models."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from transformers import WhisperConfig, WhisperModel

from ser_pipeline.audio.features import log_mel
from ser_pipeline.emotions import CLASSES, RELEASED_PRIOR
from ser_pipeline.model import EmotionModel, ModelConfig, build_model, export_model, load_model
from ser_pipeline.model.encoder import build_encoder
from ser_pipeline.training.loop import train
from train_helpers import DOMAINS, ToneWaves, tiny_config, tiny_table

TINY = {"d_model": 16, "encoder_layers": 1, "encoder_attention_heads": 2, "encoder_ffn_dim": 32}


@pytest.fixture(scope="module")
def pretrained_dir(tmp_path_factory):
    """A whole tiny WhisperModel saved with save_pretrained: 4 s of positions (200), 80 mel bins."""
    torch.manual_seed(3)
    cfg = WhisperConfig(d_model=16, encoder_layers=1, encoder_attention_heads=2, encoder_ffn_dim=32,
                        decoder_layers=1, decoder_attention_heads=2, decoder_ffn_dim=32, num_mel_bins=80,
                        max_source_positions=200, max_target_positions=8, vocab_size=64, pad_token_id=0,
                        bos_token_id=1, eos_token_id=2, decoder_start_token_id=1)
    folder = tmp_path_factory.mktemp("whisper")
    WhisperModel(cfg).save_pretrained(folder)
    return folder


def test_model_owns_window_and_mels():
    model = build_model(ModelConfig(**TINY), window_s=3.0).eval()
    assert model.n_frames == 150 and model.window_s == 3.0 and model.n_mels == 80
    wave = np.random.default_rng(0).standard_normal(20000).astype(np.float32)
    with torch.no_grad():
        ref = model(log_mel([wave], window_s=3.0, n_mels=80))[0]
    assert model.features([wave]).shape == (1, 80, 300)
    assert torch.allclose(model.frame_logits([wave]), ref)


def test_window_must_be_whole_frames():
    with pytest.raises(ValueError, match="multiple of 0.02"):
        build_model(ModelConfig(**TINY), window_s=2.013)


def test_pretrained_shorter_window_keeps_the_first_positions(pretrained_dir):
    full = WhisperModel.from_pretrained(pretrained_dir).get_encoder()
    enc = build_encoder(ModelConfig(pretrained_dir=str(pretrained_dir)), window_s=2.0)
    assert enc.config.max_source_positions == 100 and enc.embed_positions.weight.shape == (100, 16)
    assert torch.equal(enc.embed_positions.weight, full.embed_positions.weight[:100])
    assert torch.equal(enc.layers[0].fc1.weight, full.layers[0].fc1.weight)  # the real weights, not random
    model = EmotionModel(enc).eval()
    assert model.window_s == 2.0 and model.frame_logits([np.zeros(8000, np.float32)]).shape == (1, 100, 8)


def test_pretrained_refuses_a_longer_window_and_other_mel_bins(pretrained_dir):
    with pytest.raises(ValueError, match=r"needs 300 encoder positions .* has 200 \(4 s\)"):
        build_encoder(ModelConfig(pretrained_dir=str(pretrained_dir)), window_s=6.0)
    with pytest.raises(ValueError, match=r"num_mel_bins 128 differs from .*'s 80 mel bins"):
        build_encoder(ModelConfig(pretrained_dir=str(pretrained_dir), num_mel_bins=128), window_s=2.0)


def test_training_from_pretrained_weights_with_a_short_window(pretrained_dir, tmp_path):
    """With 4 s weights and a 2 s window the first forward pass used to fail inside transformers."""
    table = tiny_table(8)
    cfg = tiny_config(epochs=1, model={"pretrained_dir": str(pretrained_dir)})
    r = train(cfg, table, None, {}, domain_vocab=DOMAINS, prior=RELEASED_PRIOR, out_dir=tmp_path,
              wave_fn=ToneWaves(table))
    model, meta = load_model(r.export_dir)
    assert model.window_s == 2.0 and meta["window_s"] == 2.0 and r.steps >= 1
    # the frozen front end (auto: pretrained) kept the weights' first 100 positions
    full = WhisperModel.from_pretrained(pretrained_dir).get_encoder()
    assert torch.equal(model.encoder.embed_positions.weight, full.embed_positions.weight[:100])


def test_export_round_trip_emotion_and_regression(tmp_path):
    torch.manual_seed(0)
    model = build_model(ModelConfig(**TINY), window_s=2.0, n_domains=3).eval()
    export = export_model(model, tmp_path / "emo", prior=RELEASED_PRIOR, domain_vocab=DOMAINS,
                          train_config={"epochs": 1})
    loaded, meta = load_model(export)
    assert meta["task"] == "emotion" and meta["labels"] == list(CLASSES) and meta["domain_vocab"] == DOMAINS
    assert np.allclose(meta["prior"], RELEASED_PRIOR) and meta["n_mels"] == 80
    wave = [np.ones(4000, np.float32) * 0.1]
    assert torch.equal(loaded.frame_logits(wave), model.frame_logits(wave))
    model.replace_head(3, seed=1)
    reg = export_model(model, tmp_path / "reg", task="regression", labels=["a", "b", "c"], base_model=str(export))
    loaded, meta = load_model(reg)
    assert meta["task"] == "regression" and meta["labels"] == ["a", "b", "c"] and loaded.head.out_features == 3
    assert meta["base_model"] == str(export) and loaded.domain_head is None


def test_load_refuses_a_foreign_label_order_and_a_wrong_window(tmp_path):
    model = build_model(ModelConfig(**TINY), window_s=2.0)
    export = export_model(model, tmp_path / "m", prior=RELEASED_PRIOR)
    meta_path = export / "ser_model.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "window_s": 4.0}))
    with pytest.raises(ValueError, match=r"window_s 4.0 but the encoder has 100 positions \(2 s\)"):
        load_model(export)
    meta_path.write_text(json.dumps({**meta, "labels": list(reversed(CLASSES))}))
    with pytest.raises(ValueError, match="label order"):
        load_model(export)
    with pytest.raises(FileNotFoundError, match="not a model export"):
        load_model(tmp_path)


def test_initial_model_rebuilds_the_weights_training_started_from(tmp_path):
    """Table 2's "Random F1" uses the initial encoder: rebuilt from the exported train config."""
    from ser_pipeline.model import initial_model, seeded_model

    table = tiny_table(8)
    cfg = tiny_config(epochs=1)
    start = seeded_model(cfg.model, cfg.window_s, cfg.seed, n_domains=len(DOMAINS)).state_dict()
    r = train(cfg, table, None, {}, domain_vocab=DOMAINS, prior=RELEASED_PRIOR, out_dir=tmp_path,
              wave_fn=ToneWaves(table))
    _, meta = load_model(r.export_dir)
    rebuilt = initial_model(meta["train_config"], meta["n_domains"]).state_dict()
    assert all(torch.equal(rebuilt[k], start[k]) for k in start)
    trained = r.model.state_dict()
    assert not torch.equal(trained["encoder.layers.0.fc1.weight"], rebuilt["encoder.layers.0.fc1.weight"])
