"""The paper's released checkpoints, read directly, and our exports written in their v1 layout.

Both release layouts are plain ``torch.save`` state_dicts of a Whisper encoder with transformers'
``WhisperEncoder`` key names under ``encoder.*``, plus:

- v1 (``model_clean.pt``): ``head.weight`` (8, d), ``head.bias`` (8) and ``logit_scaling`` (1, 8),
  which holds the frozen training prior — not a multiplier: the release's forward is
  ``head(encoder(x))`` per frame, (B, 1500, 8).
- v2 (``.ckpt``): Matryoshka heads ``head.nesting_classifier_{i}.{weight,bias}``, classifier i
  reading the first d_i channels; the forward uses the last (full width). A
  ``global_head.nesting_classifier_0`` is stored and unused; the same ``logit_scaling``.

The release's inference normalises each waveform to zero mean and unit variance before the
log-mel (``WhisperFeatureExtractor(do_normalize=True)``); a model read from a release carries that
as ``model.normalize_waveform`` and in its metadata (``preprocessing.do_normalize``).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import torch
from transformers import WhisperConfig
from transformers.models.whisper.modeling_whisper import WhisperEncoder

from ser_pipeline.emotions import CLASSES, N_CLASSES
from ser_pipeline.model.emotion_model import EmotionModel

RELEASE_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin")
HEAD_DIM = 64  # every Whisper size has 64-dimensional attention heads
_NESTED = re.compile(r"head\.nesting_classifier_(\d+)\.weight")
_LAYER = re.compile(r"encoder\.layers\.(\d+)\.")


def is_release_file(path: str | Path) -> bool:
    """A file (not an export folder) whose suffix a release checkpoint has."""
    path = Path(path)
    return path.is_file() and path.suffix.lower() in RELEASE_SUFFIXES


def _state(path: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle errors, truncated files, non-torch files
        raise ValueError(f"{path}: not a readable torch checkpoint ({type(exc).__name__}: {exc})") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path}: not a state_dict of tensors")
    return state


def encoder_config_from_state(state: dict[str, torch.Tensor], source: str) -> WhisperConfig:
    """The encoder's WhisperConfig read from its tensors' shapes (d_model, layers, FFN width, mel
    bins, positions; heads = d_model / 64 as in every Whisper size)."""
    try:
        conv1 = state["encoder.conv1.weight"]  # (d_model, n_mels, 3)
        positions = state["encoder.embed_positions.weight"].shape[0]
        ffn = state["encoder.layers.0.fc1.weight"].shape[0]
    except KeyError as exc:
        raise ValueError(f"{source}: no Whisper encoder under encoder.* (missing {exc.args[0]})") from None
    d_model, n_mels = int(conv1.shape[0]), int(conv1.shape[1])
    layers = 1 + max(int(m.group(1)) for k in state if (m := _LAYER.match(k)))
    heads = max(1, d_model // HEAD_DIM)
    return WhisperConfig(d_model=d_model, encoder_layers=layers, encoder_attention_heads=heads,
                         encoder_ffn_dim=int(ffn), num_mel_bins=n_mels, max_source_positions=int(positions),
                         decoder_layers=1, decoder_attention_heads=heads, decoder_ffn_dim=int(ffn),
                         vocab_size=64, pad_token_id=0, bos_token_id=1, eos_token_id=2, decoder_start_token_id=1,
                         max_target_positions=8)


def _head(state: dict[str, torch.Tensor], d_model: int, source: str) -> tuple[str, torch.Tensor, torch.Tensor]:
    """(layout, weight (8, d), bias (8,)) of the emotion head the release's forward uses."""
    if "head.weight" in state:
        return "v1", state["head.weight"], state["head.bias"]
    nested = sorted(int(m.group(1)) for k in state if (m := _NESTED.fullmatch(k)))
    if not nested:
        raise ValueError(f"{source}: no emotion head (neither head.weight nor head.nesting_classifier_*)")
    last = nested[-1]
    w, b = state[f"head.nesting_classifier_{last}.weight"], state[f"head.nesting_classifier_{last}.bias"]
    if w.shape[1] != d_model:
        raise ValueError(f"{source}: the last nesting classifier reads {w.shape[1]} channels, the encoder has "
                         f"{d_model}: not the release's v2 layout")
    return "v2", w, b


def read_release(path: str | Path) -> tuple[EmotionModel, dict]:
    """A released v1 or v2 checkpoint -> (model in eval mode, export-style metadata).

    The architecture comes from the tensors' shapes, ``logit_scaling`` (1, 8) becomes the prior,
    and the release's waveform normalisation is switched on.

    Raises:
        ValueError: naming the file and what does not fit (no encoder, no head, wrong shapes).
    """
    path = Path(path)
    state = _state(path)
    config = encoder_config_from_state(state, str(path))
    layout, weight, bias = _head(state, config.d_model, str(path))
    if weight.shape[0] != N_CLASSES:
        raise ValueError(f"{path}: the emotion head has {weight.shape[0]} outputs, expected {N_CLASSES}")
    if "logit_scaling" not in state or state["logit_scaling"].numel() != N_CLASSES:
        raise ValueError(f"{path}: logit_scaling (1, {N_CLASSES}) (the training prior) is missing or misshaped")
    prior = state["logit_scaling"].reshape(-1).double().numpy()
    model = EmotionModel(WhisperEncoder(config), n_classes=N_CLASSES, freeze=False)
    encoder_state = {k.removeprefix("encoder."): v for k, v in state.items() if k.startswith("encoder.")}
    missing, unexpected = model.encoder.load_state_dict(encoder_state, strict=False)
    if missing or unexpected:
        raise ValueError(f"{path}: encoder weights do not fit a Whisper encoder of d_model {config.d_model}: "
                         f"missing {missing[:5]}, unexpected {unexpected[:5]}")
    with torch.no_grad():
        model.head.weight.copy_(weight)
        model.head.bias.copy_(bias)
    model.normalize_waveform = True
    meta = {"task": "emotion", "labels": list(CLASSES), "prior": [float(p) for p in prior],
            "window_s": model.window_s, "n_mels": model.n_mels, "n_domains": 0, "domain_vocab": [],
            "preprocessing": {"do_normalize": True}, "source": {"release": layout, "path": str(path)}}
    return model.eval(), meta


def write_release(model: EmotionModel, prior: np.ndarray, out_path: str | Path) -> Path:
    """Write ``model`` in the release's v1 layout (``encoder.*``, ``head.*``, ``logit_scaling`` =
    the prior (1, 8)), so the release's own inference code runs it.

    Raises:
        ValueError: a model whose window is not the release's 30 s (1,500 positions), or whose head
            is not the 8 emotions.
    """
    if model.n_frames != 1500:
        raise ValueError(f"the release's code pads to 30 s (1500 encoder positions); this model has "
                         f"{model.n_frames} ({model.window_s:g} s): train with window_s 30 to export a release")
    if model.head.out_features != N_CLASSES:
        raise ValueError(f"a release has {N_CLASSES} emotion outputs; this model has {model.head.out_features}")
    if not getattr(model, "normalize_waveform", False):
        print("note: the release's code normalises each waveform (do_normalize=True); this model was trained "
              "without it (model.normalize_waveform: false), so its outputs there will differ", file=sys.stderr)
    state = {f"encoder.{k}": v.detach().cpu().contiguous() for k, v in model.encoder.state_dict().items()}
    state["head.weight"] = model.head.weight.detach().cpu().contiguous()
    state["head.bias"] = model.head.bias.detach().cpu().contiguous()
    state["logit_scaling"] = torch.as_tensor(np.asarray(prior, dtype=np.float32)).reshape(1, N_CLASSES)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, out_path)
    return out_path
