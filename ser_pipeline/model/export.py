"""Export and load: one folder format for the emotion model and its fine-tuned variants.

A folder holds ``model.safetensors`` (the :class:`EmotionModel` state), ``whisper_config.json``
(the encoder's config, so the architecture, window and mel size travel with the weights) and
``ser_model.json``: the task (``emotion``: the 8 classes in :data:`ser_pipeline.emotions.CLASSES`
order; ``regression``: named sigmoid outputs), the output labels, the training prior (emotion),
the domain vocabulary, and the training config.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from transformers import WhisperConfig
from transformers.models.whisper.modeling_whisper import WhisperEncoder

from ser_pipeline.emotions import CLASSES
from ser_pipeline.model.emotion_model import EmotionModel
from ser_pipeline.model.release import is_release_file, read_release
from ser_pipeline.storage import is_remote, local_copy, location, put_folder

EXPORT_WEIGHTS = "model.safetensors"
EXPORT_META = "ser_model.json"
ENCODER_CONFIG = "whisper_config.json"
LEGACY_FINETUNE_META = "ser_finetune.json"  # fine-tune exports before the one format


def export_model(model: EmotionModel, export_dir: str | Path, *, task: str = "emotion",
                 labels: list[str] | None = None, prior: np.ndarray | None = None,
                 domain_vocab: list[str] = (), train_config: Mapping[str, Any] | None = None,
                 **extra: Any) -> Path:
    """Write ``model`` to ``export_dir`` (weights, encoder config, metadata); returns the folder.

    ``export_dir`` may be a URL: the folder is written to scratch and uploaded, ``ser_model.json``
    last, so a reader (:func:`read_export_meta`) never takes a half-uploaded export for one.

    Args:
        task: ``emotion`` (labels are the 8 classes; ``prior`` (8,) required) or ``regression``
            (``labels`` names the head's outputs).
        extra: further JSON-able metadata (e.g. ``base_model``, ``target_columns``).
    """
    if task not in ("emotion", "regression"):
        raise ValueError(f"export task must be emotion or regression, not {task!r}")
    if task == "emotion":
        if prior is None:
            raise ValueError("an emotion model export needs the training prior (8,)")
        labels = list(CLASSES)
    elif labels is None or len(labels) != model.head.out_features:
        raise ValueError(f"a regression export needs one label per head output ({model.head.out_features})")
    dest = location(export_dir, "export folder")
    if is_remote(dest):  # written in scratch, then uploaded with ser_model.json last (the commit marker)
        import shutil
        import tempfile

        from ser_pipeline.settings import scratch_dir

        tmp = Path(tempfile.mkdtemp(dir=scratch_dir(), prefix="export-"))
        try:
            export_model(model, tmp, task=task, labels=labels, prior=prior, domain_vocab=domain_vocab,
                         train_config=train_config, **extra)
            put_folder(tmp, dest, last=EXPORT_META)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return dest
    export_dir = Path(export_dir)
    export_dir.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(export_dir / EXPORT_WEIGHTS))
    model.encoder.config.to_json_file(str(export_dir / ENCODER_CONFIG))
    meta = {"task": task, "labels": list(labels), "window_s": model.window_s, "n_mels": model.n_mels,
            "preprocessing": {"do_normalize": model.normalize_waveform},
            "n_domains": len(domain_vocab), "domain_vocab": list(domain_vocab),
            "train_config": dict(train_config or {}), **extra}
    if prior is not None:
        meta["prior"] = [float(p) for p in prior]
    (export_dir / EXPORT_META).write_text(json.dumps(meta, indent=2))
    return export_dir


def read_export_meta(export_dir: str | Path) -> dict:
    """The metadata of an export folder (older fine-tune folders included).

    Raises:
        FileNotFoundError: naming the folder when it holds no export.
    """
    export_dir = local_copy(export_dir)  # an export in a bucket: downloaded once
    if (export_dir / EXPORT_META).exists():
        meta = json.loads((export_dir / EXPORT_META).read_text())
        meta.setdefault("task", "emotion")
        return meta
    if (export_dir / LEGACY_FINETUNE_META).exists():
        meta = json.loads((export_dir / LEGACY_FINETUNE_META).read_text())
        return {**meta, "task": "regression", "labels": meta["targets"]}
    raise FileNotFoundError(f"{export_dir} is not a model export (no {EXPORT_META})")


def load_model(export_dir: str | Path, device: str | torch.device = "cpu") -> tuple[EmotionModel, dict]:
    """Load an export written by :func:`export_model`, or a released v1/v2 checkpoint file
    (:func:`ser_pipeline.model.release.read_release`) -> (model in eval mode on ``device``, metadata).

    Raises:
        ValueError: a label order other than ours, or weights that do not fit the config.

    ``export_dir`` may be on object storage (``s3://...``): it is downloaded once into the scratch
    folder (:func:`ser_pipeline.storage.local_copy`).
    """
    export_dir = local_copy(export_dir)
    if is_release_file(export_dir):
        model, meta = read_release(export_dir)
        return model.to(device), meta
    meta = read_export_meta(export_dir)
    if meta["task"] == "emotion" and meta.get("labels") != list(CLASSES):
        raise ValueError(f"{export_dir}: label order {meta.get('labels')} differs from {list(CLASSES)}")
    encoder = WhisperEncoder(WhisperConfig.from_json_file(str(export_dir / ENCODER_CONFIG)))
    model = EmotionModel(encoder, n_classes=len(meta["labels"]), n_domains=int(meta.get("n_domains", 0)),
                         normalize_waveform=bool(meta.get("preprocessing", {}).get("do_normalize", False)))
    missing, unexpected = model.load_state_dict(load_file(str(export_dir / EXPORT_WEIGHTS)), strict=False)
    if missing or unexpected:
        raise ValueError(f"{export_dir}: weights do not match the model: missing {missing[:5]}, "
                         f"unexpected {unexpected[:5]}")
    if "window_s" in meta and abs(float(meta["window_s"]) - model.window_s) > 1e-9:
        raise ValueError(f"{export_dir}: ser_model.json says window_s {meta['window_s']} but the encoder "
                         f"has {model.n_frames} positions ({model.window_s:g} s)")
    return model.to(device).eval(), meta
