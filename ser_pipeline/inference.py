"""Audio file -> per-frame emotion timeline (50 Hz) and a per-clip prediction.

Any length, sample rate and channel count: the file is decoded to 16 kHz mono
(:func:`ser_pipeline.audio.io.load_clip`), cut into windows of the model's own context
(``model.window_s``) with a hop (default half a window), and the frame logits of overlapping
windows are averaged (:func:`ser_pipeline.model.long_audio.frame_logits_long`). Probabilities are the softmax after logit adjustment with the training prior
(Menon et al. 2021, τ = 1) and banning (−1e27 on banned classes, paper §3.1).

50 Hz: 1 frame = 320 samples = 20 ms; frame i covers [i·0.02, (i+1)·0.02) s.

Caveat: the paper scores one clip padded to the window; a long file scored here sees each frame
in (up to) two contexts, so its clip-level output differs from scoring the file as one clip.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ser_pipeline.audio import FRAME_RATE, SAMPLE_RATE
from ser_pipeline.audio.io import load_clip
from ser_pipeline.emotions import CLASS_INDEX, CLASSES, N_CLASSES, RELEASED_PRIOR
from ser_pipeline.evaluation.metrics import ban_classes, logit_adjust
from ser_pipeline.evaluation.timeline_plot import plot_timeline  # re-exported: the plot lives with the other plots
from ser_pipeline.model.emotion_model import EmotionModel
from ser_pipeline.model.long_audio import frame_logits_long, window_starts

__all__ = ["Prediction", "frame_logits_long", "plot_timeline", "predict_file", "timeline_frame", "window_starts",
           "write_timeline"]


@dataclasses.dataclass
class Prediction:
    """What :func:`predict_file` returns.

    Attributes:
        path: the input file.
        frame_logits: float32 (T, 8) raw logits averaged over overlapping windows (no adjustment).
        frame_probs: float32 (T, 8) per-frame probabilities (adjusted, banned classes 0).
        clip_probs: float32 (8,) softmax of the adjusted mean logits over all T frames.
        top: the clip's most probable class name.
        duration_s: audio duration in seconds.
        frame_rate: frames per second (50).
        banned: names of the banned classes.
    """

    path: str
    frame_logits: np.ndarray
    frame_probs: np.ndarray
    clip_probs: np.ndarray
    top: str
    duration_s: float
    frame_rate: float = FRAME_RATE
    banned: tuple[str, ...] = ()

    @property
    def times_s(self) -> np.ndarray:
        """Start time of each frame in seconds, shape (T,)."""
        return np.arange(len(self.frame_probs)) / float(self.frame_rate)

    @property
    def frame_top(self) -> list[str]:
        """Most probable class name per frame, length T."""
        return [CLASSES[i] for i in self.frame_probs.argmax(axis=1)]


def _allowed(ban: Iterable[str | int]) -> np.ndarray:
    allowed = np.ones(N_CLASSES, dtype=bool)
    for b in ban:
        if isinstance(b, str):
            if b not in CLASS_INDEX:
                raise ValueError(f"cannot ban unknown class {b!r}; expected one of {CLASSES}")
            allowed[CLASS_INDEX[b]] = False
        else:
            allowed[int(b)] = False
    if not allowed.any():
        raise ValueError(f"every class is banned ({list(ban)}); at least one must remain")
    return allowed


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z.astype(np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


def predict_file(model: EmotionModel, meta: Mapping, path: str | Path, *, hop_s: float | None = None,
                 ban: Iterable[str | int] = (), tau: float = 1.0, batch_size: int = 4,
                 fast: bool = False) -> Prediction:
    """Emotion timeline and clip prediction of one audio file.

    Args:
        model: an ``EmotionModel`` on the device to run on (e.g. from ``load_model``); its window
            sets the context.
        meta: the export metadata: ``prior`` (8,) (the released prior if absent).
        path: any file soundfile reads; any sample rate and channel count.
        hop_s: seconds between window starts. (Default: ``window_s / 2``)
        ban: class names (or indices) never to predict (−1e27 on their logits).
        tau: logit-adjustment temperature. (Default: 1.0)
        batch_size: windows per forward pass.
        fast: run the encoder under bf16 autocast (``ser predict --fast``): faster on a CPU with
            bf16 support, probabilities moved by bf16 rounding (README, "Command line").
    Returns:
        :class:`Prediction` with T = ⌈duration·50⌉ frames.
    Raises:
        AudioDecodeError: unreadable audio; ValueError: bad ``ban`` or ``hop_s``.
    """
    allowed = _allowed(ban)
    prior = meta.get("prior")
    prior = np.asarray(RELEASED_PRIOR if prior is None else prior, dtype=np.float64)
    wave = load_clip(path)
    raw = frame_logits_long(model, wave, hop_s=hop_s, batch_size=batch_size, fast=fast)
    frame_probs = _softmax(ban_classes(logit_adjust(raw, prior, tau), allowed))
    clip = raw.mean(axis=0, keepdims=True)  # mean logits over the valid frames
    clip_probs = _softmax(ban_classes(logit_adjust(clip, prior, tau), allowed))[0]
    return Prediction(path=str(path), frame_logits=raw, frame_probs=frame_probs, clip_probs=clip_probs,
                      top=CLASSES[int(clip_probs.argmax())], duration_s=len(wave) / SAMPLE_RATE,
                      banned=tuple(c for i, c in enumerate(CLASSES) if not allowed[i]))


def timeline_frame(pred: Prediction) -> pd.DataFrame:
    """One row per frame: ``time_s`` (frame start), the 8 probabilities (CLASSES order), ``top``."""
    df = pd.DataFrame(pred.frame_probs, columns=list(CLASSES))
    df.insert(0, "time_s", pred.times_s)
    df["top"] = pred.frame_top
    return df


def write_timeline(pred: Prediction, out_path: str | Path) -> Path:
    """Write the timeline as ``.csv`` (:func:`timeline_frame`) or ``.json`` (clip summary + frames).

    Raises ``ValueError`` for any other suffix.
    """
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    df = timeline_frame(pred)
    suffix = out_path.suffix.lower()
    if suffix == ".csv":
        df.to_csv(out_path, index=False, float_format="%.6g")
    elif suffix == ".json":
        doc = {
            "path": pred.path, "duration_s": pred.duration_s, "frame_rate": pred.frame_rate,
            "labels": list(CLASSES), "banned": list(pred.banned), "top": pred.top,
            "clip_probs": {c: float(p) for c, p in zip(CLASSES, pred.clip_probs, strict=True)},
            "frames": df.to_dict(orient="records"),
        }
        out_path.write_text(json.dumps(doc))
    else:
        raise ValueError(f"timeline output must end in .csv or .json, found {out_path.name!r}")
    return out_path
