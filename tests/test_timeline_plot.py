"""The timeline plot is readable for a long file (issue 15.7): smoothed curves, a top-class band
whose segments follow the emotions in order, the legend outside the axes."""

import numpy as np
import pytest

from ser_pipeline.emotions import CLASS_INDEX, CLASSES
from ser_pipeline.evaluation.timeline_plot import Segment, smooth_probs, timeline_figure, top_segments
from ser_pipeline.inference import Prediction, plot_timeline


def test_smoothing_is_a_centred_mean_over_the_frames_that_exist():
    probs = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    out = smooth_probs(probs, frame_rate=2.0, window_s=1.5)  # 3 frames
    assert out[:, 0] == pytest.approx([1 / 2, 2 / 3, 2 / 3, 1.0])  # edges: 2 frames, not 3 with a 0
    assert out.sum(axis=1) == pytest.approx(1.0)
    assert np.array_equal(smooth_probs(probs, frame_rate=2.0, window_s=0.1), probs)  # ≤ 1 frame: unchanged


def test_band_segments_are_runs_of_the_top_class():
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    assert top_segments(probs, frame_rate=2.0, labels=("a", "b")) == [
        Segment("a", 0.0, 1.0), Segment("b", 1.0, 1.5), Segment("a", 1.5, 2.0)]
    assert top_segments(np.zeros((0, 2)), 2.0) == []


def _long_prediction(tmp_path) -> tuple[Prediction, list[str]]:
    """2.5 minutes at 50 Hz: five emotions of 30 s each, with frame-level noise that flips the raw
    argmax now and then (what the smoothing must hide)."""
    rng = np.random.default_rng(0)
    emotions = ["neutral", "happiness", "anger", "sadness", "neutral"]
    probs = []
    for e in emotions:
        p = rng.dirichlet(np.ones(len(CLASSES)), size=30 * 50) * 0.6
        p[:, CLASS_INDEX[e]] += 0.4
        probs.append(p)
    probs = np.concatenate(probs).astype(np.float32)
    pred = Prediction(path=str(tmp_path / "long.wav"), frame_logits=np.log(probs), frame_probs=probs,
                      clip_probs=probs.mean(0), top="neutral", duration_s=150.0)
    return pred, emotions


def test_long_multi_emotion_timeline(tmp_path):
    pred, emotions = _long_prediction(tmp_path)
    raw_runs = len(top_segments(pred.frame_probs, 50))
    band = top_segments(smooth_probs(pred.frame_probs, 50, 0.5), 50)
    assert [s.label for s in band] == emotions and raw_runs > 4 * len(emotions)  # noisy raw argmax, clean band
    assert [round(s.start_s) for s in band] == [0, 30, 60, 90, 120]

    png = plot_timeline(pred, tmp_path / "t.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
    fig, ax = timeline_figure(pred)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legend, axes = ax.get_legend().get_window_extent(renderer), ax.get_window_extent(renderer)
    assert legend.x0 >= axes.x1  # right of the data, covering none of it
    assert ax.xaxis.get_major_formatter()(125.0, 0) == "2:05"  # m:ss for a long file
