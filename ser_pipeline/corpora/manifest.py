"""A user's own corpus from a manifest (the paper's "Proprietary" row).

Layout::

    <root>/
      manifest.csv | manifest.parquet     one row per utterance
      <any tree of audio files>           paths in the manifest are relative to <root>

Columns:

    =============  ========  =====================================================================
    column         required  meaning
    =============  ========  =====================================================================
    path           yes       audio file relative to the root (no ``..``, no absolute paths)
    label          one of    a label word (labels.md common words, or ``label_map=``)
    happiness...   one of    the 8 raw score columns in [0, 1] (all eight, labels.md order)
    speaker        yes       the speaker id (empty = unknown)
    language       yes       ISO 639-1
    gender         no        F / M
    start_s end_s  no        segment bounds in seconds inside ``path``
    split          no        kept as ``official_split``
    =============  ========  =====================================================================

Unknown columns are ignored with a warning. A missing required column is a ``ValueError`` naming
it. Paths that escape the root (``../``, absolute paths elsewhere, symlinks out of the root) are
rejected with ``outside_root``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ser_pipeline.corpora.base import (
    CorpusSpec, CorpusTables, Reason, TableBuilder, lookup_label, read_text, require_root,
)
from ser_pipeline.emotions import CLASSES, COMMON_WORDS, score_vector

log = logging.getLogger(__name__)

LABEL_MAP: dict[str, dict[str, float]] = dict(COMMON_WORDS)
REQUIRED = ("path", "speaker", "language")
KNOWN = {*REQUIRED, "label", *CLASSES, "gender", "start_s", "end_s", "split"}

SPEC = CorpusSpec(
    name="manifest",
    title="User manifest (\"Proprietary\")",
    role="train",
    languages=(),
    layout="manifest.csv or manifest.parquet at the root + audio files relative to it",
    soft_label_source="the 8 score columns when present, else the label word through the label map",
    label_map=LABEL_MAP,
    assumptions="score columns win over `label` when both are present",
    code_version="1",
)


def load_manifest_file(root: Path, manifest_file: str | None = None) -> pd.DataFrame:
    """Read the manifest table; raises ``FileNotFoundError``/``ValueError`` naming the problem."""
    candidates = [manifest_file] if manifest_file else ["manifest.parquet", "manifest.csv"]
    for name in candidates:
        path = root / name
        if path.is_file():
            if path.suffix == ".parquet":
                df = pd.read_parquet(path)
            else:  # UTF-8 or Latin-1 text: a non-UTF-8 manifest must not crash the scan
                import io

                df = pd.read_csv(io.StringIO(read_text(path)), dtype=str, keep_default_na=False)
            missing = [c for c in REQUIRED if c not in df.columns]
            if missing:
                raise ValueError(f"{path}: missing required column(s) {missing}; found {list(df.columns)}")
            has_scores = all(c in df.columns for c in CLASSES)
            if "label" not in df.columns and not has_scores:
                raise ValueError(f"{path}: needs a 'label' column or all 8 score columns {list(CLASSES)}")
            unknown = sorted(set(df.columns) - KNOWN)
            if unknown:
                log.warning("%s: ignoring unknown column(s) %s", path, unknown)
            return df
    raise FileNotFoundError(f"manifest: no {' or '.join(candidates)} in {root}")


def _lexically_inside(rel: str) -> bool:
    """False for empty, absolute or ``..`` paths; symlinks out of the root are caught while
    probing (``TableBuilder(confine_to_root=True)``), in the scan's worker processes."""
    return bool(rel) and not os.path.isabs(rel) and ".." not in rel.replace("\\", "/").split("/")


def _float(v) -> float | None:
    if v is None or (isinstance(v, str) and v.strip() == ""):
        return None
    f = float(v)
    return None if np.isnan(f) else f


def read(root: Path, manifest_file: str | None = None,
         label_map: Mapping[str, Mapping[str, float]] | None = None, name: str = "manifest") -> CorpusTables:
    """Read a user corpus described by ``manifest.csv``/``manifest.parquet`` under ``root``."""
    root = require_root(root, name)
    df = load_manifest_file(root, manifest_file)
    lmap = {**LABEL_MAP, **(label_map or {})}
    b = TableBuilder(SPEC, root, confine_to_root=True)
    has_scores = all(c in df.columns for c in CLASSES)
    root_s = str(root)
    n = len(df)

    def column(name: str, default: object = "") -> list:  # lists, not per-row dicts: this loop is the scan's serial part
        return df[name].tolist() if name in df.columns else [default] * n

    score_cols = list(zip(*(column(c) for c in CLASSES), strict=True)) if has_scores else [()] * n
    label_scores: dict[str, list[float] | None] = {}  # label text -> score vector (looked up once)
    for rel, label, speaker, language, gender, split, start_v, end_v, raw in zip(
            column("path"), column("label"), column("speaker"), column("language"), column("gender"),
            column("split"), column("start_s", None), column("end_s", None), score_cols, strict=True):
        rel = str(rel).strip()
        if not _lexically_inside(rel):
            b.reject(rel, Reason.OUTSIDE_ROOT, f"path {rel!r} escapes the corpus root {root}")
            continue
        path = os.path.join(root_s, rel)
        try:
            values = [_float(v) for v in raw]
            if raw and None not in values:
                scores, source = values, label or None
            else:
                label = str(label).strip()
                if label not in label_scores:
                    row = lookup_label(lmap, label) if label else None
                    label_scores[label] = None if row is None else score_vector(row).tolist()
                scores, source = label_scores[label], label
                if scores is None:
                    b.reject(path, Reason.LABEL_UNKNOWN if label else Reason.LABEL_MISSING,
                             f"label {label!r} is not in the label map")
                    continue
        except (ValueError, TypeError) as exc:
            b.reject(path, Reason.MALFORMED, f"bad score value: {exc}")
            continue
        try:
            start, end = _float(start_v), _float(end_v)
        except (ValueError, TypeError) as exc:
            b.reject(path, Reason.MALFORMED, f"bad start_s/end_s: {exc}")
            continue
        key = None if start is None and end is None else f"{Path(rel).with_suffix('').as_posix()}@{start or 0:.3f}-{end}"
        b.add(path, scores, speaker=str(speaker).strip() or None, language=str(language).strip(),
              gender=(str(gender).strip() or None), source_label=source,
              official_split=(str(split).strip() or None), start_s=start, end_s=end, utterance_key=key)
    return b.finish()
