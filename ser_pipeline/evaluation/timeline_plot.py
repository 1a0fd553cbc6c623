"""A readable emotion timeline: smoothed curves, a top-class colour band, the legend outside.

Raw 50 Hz probabilities of a 2-minute file are 6,000 points × 8 lines that overlap; the plot
instead shows each class's moving average (default 0.5 s) and, above the curves, one coloured
band segment per stretch of the same top class (argmax of the smoothed probabilities).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from ser_pipeline.emotions import CLASSES

#: one colour per class, in CLASSES order (fixed, so a class looks the same in every plot)
PALETTE: dict[str, str] = dict(zip(CLASSES, ("#f2c14e", "#4a90d9", "#6aa84f", "#8e5cc4", "#e8833a",
                                             "#d64545", "#a0522d", "#9e9e9e"), strict=True))


class Segment(NamedTuple):
    """A stretch of one top class: ``[start_s, end_s)`` in seconds."""

    label: str
    start_s: float
    end_s: float


def smooth_probs(probs: np.ndarray, frame_rate: float, window_s: float = 0.5) -> np.ndarray:
    """Centred moving average of each column over ``window_s`` seconds.

    Args:
        probs: (T, C) per-frame probabilities.
        frame_rate: frames per second (50).
        window_s: averaging window in seconds; ≤ one frame returns ``probs`` unchanged.
    Returns:
        (T, C) float64; near the ends the mean is over the frames that exist (no zero padding).
    """
    probs = np.asarray(probs, dtype=np.float64)
    k = int(round(window_s * frame_rate))
    if k <= 1 or len(probs) == 0:
        return probs
    kernel = np.ones(k)
    # sum over the window / number of real frames in it: edges are not pulled towards 0
    counts = np.convolve(np.ones(len(probs)), kernel, mode="same")
    return np.stack([np.convolve(probs[:, c], kernel, mode="same") / counts for c in range(probs.shape[1])],
                    axis=1)


def top_segments(probs: np.ndarray, frame_rate: float, labels=CLASSES) -> list[Segment]:
    """Runs of the same argmax class over frames, as time segments (frame i covers [i, i+1)/rate)."""
    if len(probs) == 0:
        return []
    top = np.asarray(probs).argmax(axis=1)
    starts = np.flatnonzero(np.r_[True, top[1:] != top[:-1]])
    ends = np.r_[starts[1:], len(top)]
    return [Segment(labels[top[s]], s / frame_rate, e / frame_rate) for s, e in zip(starts, ends, strict=True)]


def _time_formatter(duration_s: float):
    from matplotlib.ticker import FuncFormatter

    if duration_s < 60:
        return FuncFormatter(lambda x, _: f"{x:g}")
    return FuncFormatter(lambda x, _: f"{int(x // 60)}:{int(x % 60):02d}")


def timeline_figure(pred, smooth_s: float = 0.5):
    """The figure of a :class:`ser_pipeline.inference.Prediction`: smoothed per-class curves
    (banned classes left out), the top-class band above them, time in s (m:ss from a minute on),
    the legend right of the axes. Returns ``(figure, curves_axes)``; the caller closes it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    smooth = smooth_probs(pred.frame_probs, pred.frame_rate, smooth_s)
    t = np.arange(len(smooth)) / float(pred.frame_rate)
    fig, (band, ax) = plt.subplots(2, 1, sharex=True, figsize=(11, 3.8),
                                   gridspec_kw={"height_ratios": [1, 6], "hspace": 0.05})
    for seg in top_segments(smooth, pred.frame_rate):
        band.axvspan(seg.start_s, seg.end_s, color=PALETTE[seg.label], linewidth=0)
    band.set_yticks([])
    band.set_ylabel("top", rotation=0, ha="right", va="center")
    for i, c in enumerate(CLASSES):
        if c not in pred.banned:
            ax.plot(t, smooth[:, i], label=c, color=PALETTE[c], linewidth=1.2)
    duration = max(pred.duration_s, 1e-3)
    ax.set_xlim(0, duration)
    ax.set_ylim(0, 1)
    ax.xaxis.set_major_formatter(_time_formatter(duration))
    ax.set_xlabel("time (m:ss)" if duration >= 60 else "time (s)")
    ax.set_ylabel(f"probability\n({smooth_s:g} s mean)")
    band.set_title(f"{Path(pred.path).name}: {pred.top} ({pred.clip_probs.max():.2f})")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    fig.subplots_adjust(left=0.08, right=0.84, top=0.9, bottom=0.14)
    return fig, ax


def plot_timeline(pred, png_path: str | Path, smooth_s: float = 0.5) -> Path:
    """Write :func:`timeline_figure` of ``pred`` as a PNG; returns its path.

    Args:
        pred: a :class:`ser_pipeline.inference.Prediction`.
        png_path: where to write (folders are created).
        smooth_s: moving-average window of the curves and the band, seconds. (Default: 0.5)
    """
    import matplotlib.pyplot as plt

    png_path = Path(png_path)
    png_path.parent.mkdir(parents=True, exist_ok=True)
    fig, _ = timeline_figure(pred, smooth_s)
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
    return png_path
