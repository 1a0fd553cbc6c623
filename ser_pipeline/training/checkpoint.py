"""Training checkpoints: atomic writes, a digest per file, and fallback past a corrupt one.

A checkpoint is a plain dict of tensors and Python primitives (model, optimizer, scheduler,
accumulation state, sampler state, RNG, step, config, class order), so it loads with
``torch.load(weights_only=True)``: no pickled code runs on load.

Writing: ``ckpt_<step>.pt`` is written to a temporary file, fsynced and renamed (atomic on POSIX),
then its SHA-256 goes to ``ckpt_<step>.pt.sha256`` the same way. A file without a matching digest
(killed mid-write, truncated, bit-flipped) is skipped by :func:`latest_valid_checkpoint`, which
falls back to the previous one.

The folder may be on object storage (a URL): each file is one PUT, the digest after the data,
so the digest object is the commit marker there as well.
"""

from __future__ import annotations

import hashlib
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ser_pipeline.storage import StorageError, describe_error, is_remote, location, read_bytes, write_bytes

_NAME = re.compile(r"^ckpt_(\d+)\.pt$")


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader sees the old file or all of the new one (a
    local path: temporary file, fsync, rename; an object: one PUT)."""
    write_bytes(path, data)


def save_checkpoint(state: dict[str, Any], directory: str | Path, step: int, keep: int = 3) -> Path:
    """Write ``state`` as ``directory/ckpt_<step>.pt`` (+ digest); keep the newest ``keep`` files.

    ``directory`` may be a URL / ``UPath``: the data object is PUT first, its digest sidecar after
    it (the commit marker), so an upload cut short leaves a checkpoint :func:`is_valid` rejects."""
    import io

    directory = location(directory, "checkpoint folder")
    if not is_remote(directory):
        directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"ckpt_{step:09d}.pt"
    buf = io.BytesIO()
    torch.save(state, buf)
    data = buf.getvalue()
    atomic_write(path, data)
    atomic_write(path.with_name(path.name + ".sha256"), hashlib.sha256(data).hexdigest().encode())
    for old in list_checkpoints(directory)[:-keep] if keep > 0 else []:
        for p in (old.with_name(old.name + ".sha256"), old):  # the marker first
            p.unlink(missing_ok=True)
    return path


def list_checkpoints(directory: str | Path) -> list[Path]:
    """Checkpoint files in ``directory`` (a folder, or a URL: one listing), oldest step first."""
    directory = location(directory, "checkpoint folder")
    if is_remote(directory):
        fs = directory.fs
        try:
            fs.invalidate_cache(directory.path)
            names = [k.rsplit("/", 1)[-1] for k in fs.ls(directory.path, detail=False)]
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StorageError(describe_error(str(directory), exc)) from exc
        found = [(int(m.group(1)), directory / n) for n in names if (m := _NAME.match(n))]
    elif not directory.is_dir():
        return []
    else:
        found = [(int(m.group(1)), p) for p in directory.iterdir() if (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def is_valid(path: str | Path) -> bool:
    """True when the file's SHA-256 matches its digest file and it loads with weights_only."""
    path = location(path, "checkpoint")
    sidecar = path.with_name(path.name + ".sha256")
    try:
        data = read_bytes(path)
        if sidecar.read_text().strip() != hashlib.sha256(data).hexdigest():
            return False
        _load_bytes(data)
    except StorageError:  # the store itself failed: not the same as a corrupt checkpoint
        raise
    except Exception:  # missing digest, truncated zip, unpickling refused: all mean "not usable"
        return False
    return True


def latest_valid_checkpoint(directory: str | Path) -> Path | None:
    """The newest checkpoint that passes :func:`is_valid`, or None."""
    for path in reversed(list_checkpoints(directory)):
        if is_valid(path):
            return path
    return None


def _load_bytes(data: bytes, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    import io

    return torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """``torch.load(path, weights_only=True)``: tensors and primitives only (an object: one GET)."""
    path = location(path, "checkpoint")
    if is_remote(path):
        return _load_bytes(read_bytes(path), map_location)
    return torch.load(path, map_location=map_location, weights_only=True)


def capture_rng() -> dict[str, Any]:
    """Python, NumPy and torch (CPU and CUDA) RNG states as weights_only-loadable values."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {"python": random.getstate(), "numpy": [kind, torch.from_numpy(keys.copy()), pos, has_gauss, gauss],
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng`."""
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), int(pos), int(has_gauss), float(gauss)))
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
