"""File -> timeline on a tiny random-weights model (window 4 s = 200 frames)."""

import json
import math

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from ser_pipeline.audio.features import log_mel
from ser_pipeline.emotions import CLASSES
from ser_pipeline.inference import (
    frame_logits_long,
    plot_timeline,
    predict_file,
    timeline_frame,
    window_starts,
    write_timeline,
)
from ser_pipeline.training.config import TrainConfig
from ser_pipeline.model import build_model

META = {"window_s": 4.0, "prior": [1 / 8] * 8}


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    cfg = TrainConfig.from_dict({"window_s": 4.0})
    return build_model(cfg.model, cfg.window_s).eval()


@pytest.fixture(scope="module")
def stereo_file(tmp_path_factory):
    """10 s of stereo noise at 44.1 kHz."""
    path = tmp_path_factory.mktemp("audio") / "long.wav"
    rng = np.random.default_rng(0)
    sf.write(path, 0.1 * rng.standard_normal((441000, 2)).astype(np.float32), 44100)
    return path


def test_window_starts():
    # 10 s = 160000 samples, window 64000, hop 32000: 0, 32000, 64000, 96000 (96000+64000 reaches the end)
    assert window_starts(160000, 64000, 32000) == [0, 32000, 64000, 96000]
    assert window_starts(1000, 64000, 32000) == [0]


def test_predict_long_stereo_file(model, stereo_file, tmp_path):
    pred = predict_file(model, META, stereo_file, ban=("neutral",))
    assert pred.frame_probs.shape == (math.ceil(10 * 50), 8)  # 500 frames at 50 Hz
    np.testing.assert_allclose(pred.frame_probs.sum(axis=1), 1.0, atol=1e-5)
    assert pred.clip_probs.sum() == pytest.approx(1.0, abs=1e-5)
    assert pred.duration_s == pytest.approx(10.0)
    assert np.all(pred.frame_probs[:, CLASSES.index("neutral")] == 0.0)

    df = timeline_frame(pred)
    assert list(df.columns) == ["time_s", *CLASSES, "top"]
    assert df.time_s.iloc[1] == pytest.approx(0.02)
    csv = pd.read_csv(write_timeline(pred, tmp_path / "t.csv"))
    assert len(csv) == 500
    doc = json.loads(write_timeline(pred, tmp_path / "t.json").read_text())
    assert doc["top"] == pred.top and len(doc["frames"]) == 500
    with pytest.raises(ValueError, match=".csv or .json"):
        write_timeline(pred, tmp_path / "t.txt")
    assert plot_timeline(pred, tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"


def test_banned_class_never_top(model, stereo_file):
    n = CLASSES.index("neutral")
    with torch.no_grad():
        model.head.bias[n] += 100.0  # neutral would win every frame
    try:
        assert predict_file(model, META, stereo_file).top == "neutral"
        pred = predict_file(model, META, stereo_file, ban=("neutral", "happiness"))
    finally:
        with torch.no_grad():
            model.head.bias[n] -= 100.0
    assert pred.top not in ("neutral", "happiness")
    assert not {"neutral", "happiness"} & set(timeline_frame(pred).top)
    with pytest.raises(ValueError, match="unknown class"):
        predict_file(model, META, stereo_file, ban=("boredom",))


def test_overlapping_frames_are_averaged(model):
    # 6 s wave, window 4 s, hop 2 s: windows start at 0 and 2 s (frames 0-199 and 100-299)
    wave = 0.1 * np.random.default_rng(1).standard_normal(96000).astype(np.float32)
    out = frame_logits_long(model, wave)
    with torch.no_grad():
        z = model(log_mel([wave[:64000], wave[32000:96000]], window_s=4.0))[0].numpy()
    assert out.shape == (300, 8)
    np.testing.assert_allclose(out[:100], z[0, :100], atol=1e-5)  # only window 0
    np.testing.assert_allclose(out[150], (z[0, 150] + z[1, 50]) / 2, atol=1e-5)  # both windows
    np.testing.assert_allclose(out[250], z[1, 150], atol=1e-5)  # only window 1
