"""The paper's released checkpoints (v1 ``model_clean.pt``, v2 ``.ckpt``) used directly, and our
exports written in the v1 layout. Files are built with a small random encoder in the exact layouts;
the reference is computed the release's way (WhisperFeatureExtractor with do_normalize=True,
head(encoder(x)) per frame, softmax(logits − log prior))."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
from transformers import WhisperConfig, WhisperFeatureExtractor
from transformers.models.whisper.modeling_whisper import WhisperEncoder

from ser_pipeline.cli import main as ser
from ser_pipeline.emotions import CLASSES, RELEASED_PRIOR
from ser_pipeline.model import ModelConfig, build_model, export_model, load_model
from ser_pipeline.model.release import read_release, write_release
from ser_pipeline.synth.voice import make_speaker, synthesize

D, LAYERS, FFN = 128, 2, 256  # d_model 128 -> 2 heads of 64, as every Whisper size


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """(encoder, head weight, head bias, v1 path, v2 path) of one random 30 s encoder."""
    torch.manual_seed(11)
    cfg = WhisperConfig(d_model=D, encoder_layers=LAYERS, encoder_attention_heads=D // 64, encoder_ffn_dim=FFN,
                        num_mel_bins=80, max_source_positions=1500)
    encoder = WhisperEncoder(cfg).eval()
    head_w, head_b = torch.randn(8, D) * 0.5, torch.randn(8) * 0.1
    prior = torch.tensor(RELEASED_PRIOR, dtype=torch.float32).reshape(1, 8)
    enc = {f"encoder.{k}": v for k, v in encoder.state_dict().items()}
    folder = tmp_path_factory.mktemp("release")
    torch.save({**enc, "head.weight": head_w, "head.bias": head_b, "logit_scaling": prior}, folder / "model_clean.pt")
    widths = [16 * (i + 1) for i in range(8)]  # Matryoshka: classifier i reads the first widths[i] channels
    v2 = dict(enc)
    for i, w in enumerate(widths):
        v2[f"head.nesting_classifier_{i}.weight"] = head_w[:, :w].clone() if w == D else torch.randn(8, w)
        v2[f"head.nesting_classifier_{i}.bias"] = head_b.clone() if w == D else torch.randn(8)
    v2["global_head.nesting_classifier_0.weight"], v2["global_head.nesting_classifier_0.bias"] = \
        torch.randn(8, D), torch.randn(8)
    v2["logit_scaling"] = prior
    torch.save(v2, folder / "model.ckpt")
    return encoder, head_w, head_b, folder / "model_clean.pt", folder / "model.ckpt"


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    """12 s of generated speech at 22.05 kHz stereo (decoded to 16 kHz mono by our reader)."""
    wave = synthesize("anger", make_speaker(3, "s1"), 12.0, 16000, seed=5)
    path = tmp_path_factory.mktemp("audio") / "talk.wav"
    sf.write(path, np.stack([wave, wave], axis=1), 16000)
    return path, wave


def release_probs(encoder, head_w, head_b, wave: np.ndarray) -> np.ndarray:
    """The release's own inference: (T, 8) softmax(head(encoder(x)) − log prior) per frame."""
    fe = WhisperFeatureExtractor(feature_size=80)
    feats = fe(wave, sampling_rate=16000, do_normalize=True, return_tensors="pt").input_features
    with torch.no_grad():
        logits = encoder(feats).last_hidden_state @ head_w.T + head_b  # (1, 1500, 8)
    z = logits[0].double() - torch.log(torch.tensor(RELEASED_PRIOR, dtype=torch.float64))
    return torch.softmax(z, -1).numpy()


@pytest.mark.parametrize("which", ["v1", "v2"])
def test_ser_predict_runs_a_release_file_as_the_release_does(release, speech, tmp_path, which):
    encoder, head_w, head_b, v1, v2 = release
    path, wave = speech
    out = tmp_path / "timeline.csv"
    assert ser(["predict", str(path), "--model", str(v1 if which == "v1" else v2), "--out", str(out)]) == 0
    ours = pd.read_csv(out)[list(CLASSES)].to_numpy()
    ref = release_probs(encoder, head_w, head_b, wave)[: len(ours)]
    assert len(ours) == int(np.ceil(len(wave) / 320))
    assert np.abs(ours - ref).max() <= 1e-3


def test_release_architecture_prior_and_preprocessing_come_from_the_file(release):
    model, meta = read_release(release[3])
    assert (model.encoder.config.d_model, model.encoder.config.encoder_layers, model.encoder.config.encoder_ffn_dim,
            model.encoder.config.encoder_attention_heads, model.n_mels, model.n_frames) == (D, LAYERS, FFN, 2, 80, 1500)
    assert np.allclose(meta["prior"], RELEASED_PRIOR, atol=1e-7) and meta["preprocessing"] == {"do_normalize": True}
    assert meta["source"]["release"] == "v1" and model.normalize_waveform
    assert not hasattr(model, "logit_scaling")  # the prior is metadata, never a learnable multiplier
    assert read_release(release[4])[1]["source"]["release"] == "v2"


def test_export_release_round_trip(tmp_path, speech):
    torch.manual_seed(2)
    model = build_model(ModelConfig(d_model=64, encoder_layers=1, encoder_attention_heads=1, encoder_ffn_dim=64,
                                    normalize_waveform=True), window_s=30.0).eval()
    prior = np.array(RELEASED_PRIOR)[::-1].copy() / np.sum(RELEASED_PRIOR)
    export = export_model(model, tmp_path / "export", prior=prior)
    assert ser(["export-release", str(export), "--out", str(tmp_path / "ours.pt")]) == 0
    state = torch.load(tmp_path / "ours.pt", weights_only=True)
    assert {k.split(".")[0] for k in state} == {"encoder", "head", "logit_scaling"}
    assert state["logit_scaling"].shape == (1, 8)
    back, meta = load_model(tmp_path / "ours.pt")
    assert np.allclose(meta["prior"], prior, atol=1e-7)
    wave = [speech[1]]
    assert torch.allclose(back.frame_logits(wave), model.frame_logits(wave), atol=1e-6)


def test_export_release_refuses_a_short_window(tmp_path):
    model = build_model(ModelConfig(d_model=16, encoder_layers=1, encoder_attention_heads=1, encoder_ffn_dim=32),
                        window_s=4.0)
    with pytest.raises(ValueError, match=r"1500 encoder positions\); this model has 200 \(4 s\)"):
        write_release(model, np.array(RELEASED_PRIOR), tmp_path / "x.pt")


def test_bad_release_files_name_the_file(tmp_path, release):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="junk.pt: not a readable torch checkpoint"):
        read_release(junk)
    state = torch.load(release[3], weights_only=True)
    del state["logit_scaling"]
    torch.save(state, tmp_path / "noprior.pt")
    with pytest.raises(ValueError, match=r"noprior.pt: logit_scaling .* missing"):
        read_release(tmp_path / "noprior.pt")
    with pytest.raises(SystemExit, match="does not exist"):
        ser(["predict", str(tmp_path / "a.wav"), "--model", str(tmp_path / "missing.pt")])


def test_init_from_a_release_starts_training_from_its_encoder_and_head(release):
    encoder, head_w, head_b, v1, _ = release
    model = build_model(ModelConfig(init_from=str(v1)), window_s=8.0, n_domains=3)
    assert model.n_frames == 400 and model.normalize_waveform and model.domain_head.out_features == 3
    assert torch.equal(model.head.weight, head_w) and torch.equal(model.head.bias, head_b)
    assert torch.equal(model.encoder.embed_positions.weight, encoder.embed_positions.weight[:400])
    assert not model.encoder.conv1.weight.requires_grad  # auto: loaded weights freeze the convs (§2.5)
    assert model.encoder.layers[0].fc1.weight.requires_grad


def test_missing_audio_is_one_line(tmp_path, release, capsys):
    assert ser(["predict", str(tmp_path / "nope.wav"), "--model", str(release[3])]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'nope.wav'}: no such audio file" in err and "Traceback" not in err


@pytest.mark.e2e
def test_table2_of_a_release_file_without_training(release, tmp_path, mlflow_uri):
    """emotion_model.model_file: no training; the evaluation assets score the given file. EmoDB is
    scored on Table 2's six classes, and the "Random F1" uses the file's own encoder."""
    import sys
    from pathlib import Path

    import dagster as dg

    from ser_pipeline.definitions import ASSETS
    from ser_pipeline.evaluation.metrics import EXPECTED_SCORED
    from ser_pipeline.synth import synth_corpus

    sys.path.insert(0, str(Path(__file__).parent))
    from pipeline_helpers import pipeline_resources

    root = tmp_path / "corpora"
    for name in ("ravdess", "emodb"):
        synth_corpus(name, root / name, speakers=2, per_class=1)
    resources = pipeline_resources(root, tmp_path, mlflow_uri)
    selection = [k for a in ASSETS if isinstance(a, dg.AssetsDefinition) for k in a.keys
                 if k.to_user_string().startswith("corpora/") or
                 k.to_user_string() in {"label_intensity", "smoothed_labels", "splits", "emotion_model",
                                        "evaluation/emodb"}]
    config = {"ops": {"emotion_model": {"config": {"model_file": str(release[3]), "register_model": False}}}}
    with dg.instance_for_test() as instance:
        result = dg.materialize(ASSETS, selection=selection, resources=resources, instance=instance,
                                run_config=config)
    assert result.success
    model_meta = result.asset_materializations_for_node("emotion_model")[0].metadata
    assert model_meta["steps"].value == 0
    meta = result.asset_materializations_for_node("evaluation__emodb")[0].metadata
    assert meta["scored_classes"].value == ", ".join(EXPECTED_SCORED["emodb"])
    assert meta["random_head_encoder"].value.startswith("the evaluated model's")
    assert 0 <= meta["random_head_micro_f1"].value <= 100
