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
    label          one of    a label word (docs/labels.md common words, or ``label_map=``)
    happiness...   one of    the 8 raw score columns in [0, 1] (all eight, docs/labels.md order); a row
                             with all eight empty uses its label; one with some empty or NaN is
                             a ``nan_scores`` reject, one with all zero a ``no_score_mass`` reject
    speaker        yes       the speaker id (empty = unknown)
    language       yes       ISO 639-1
    gender         no        F / M
    start_s end_s  no        segment bounds in seconds inside ``path``
    split          no        kept as ``official_split``
    =============  ========  =====================================================================

Unknown columns are ignored with a warning. A missing required column is a ``ValueError`` naming
it. Paths that escape the root (``../``, absolute paths elsewhere, symlinks out of the root) are
rejected with ``outside_root``. Paths are normalised before they become ids, so one file is one
row: ``audio/good.wav``, ``./audio/good.wav`` and ``audio//good.wav`` are the same file, and the
second and third listings are ``duplicate_id`` rejects naming the first.
"""

from __future__ import annotations

import codecs
import logging
import math
import os
import posixpath
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from ser_pipeline.corpora.base import (
    CorpusSpec, CorpusTables, Reason, ScanSettings, TableBuilder, lookup_label, require_root,
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


#: distinct label texts whose score vectors are cached (a manifest has a handful; the cap keeps a
#: manifest of free-text labels from growing the cache with its length)
MAX_CACHED_LABELS = 4096
#: manifest rows parsed at a time (the file is streamed; memory does not grow with its length)
CHUNK_ROWS = 16384


def text_encoding(path: Path, block: int = 1 << 20) -> str:
    """``"utf-8-sig"`` if the whole file decodes as UTF-8, else ``"latin-1"`` (never fails).

    Streams the file once in ``block``-byte reads, so a large manifest is not held as text.
    """
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    try:
        with path.open("rb") as f:
            while data := f.read(block):
                decoder.decode(data)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "latin-1"
    return "utf-8-sig"


def manifest_chunks(root: Path, manifest_file: str | None = None,
                    rows: int = CHUNK_ROWS) -> tuple[list[str], Iterator[pd.DataFrame]]:
    """Open the manifest table: its validated column names and its rows, ``rows`` at a time.

    Raises ``FileNotFoundError``/``ValueError`` naming the file and the problem before any row
    is read. CSV values come as ``str`` (empty for a missing value); Parquet keeps its types.
    """
    candidates = [manifest_file] if manifest_file else ["manifest.parquet", "manifest.csv"]
    for name in candidates:
        path = root / name
        if not path.is_file():
            continue
        if path.suffix == ".parquet":
            pf = pq.ParquetFile(path if isinstance(path, Path) else path.open("rb"))
            columns = list(pf.schema_arrow.names)
            chunks = (batch.to_pandas() for batch in pf.iter_batches(batch_size=rows))
        else:  # UTF-8 or Latin-1 text: a non-UTF-8 manifest must not crash the scan
            options = dict(dtype=str, keep_default_na=False, encoding=text_encoding(path))
            try:
                with path.open("rb") as f:
                    columns = list(pd.read_csv(f, nrows=0, **options).columns)
            except (pd.errors.EmptyDataError, pd.errors.ParserError) as exc:
                raise ValueError(f"{path}: not a readable CSV table: {exc}") from exc
            chunks = _csv_chunks(path, rows, options)
        missing = [c for c in REQUIRED if c not in columns]
        if missing:
            raise ValueError(f"{path}: missing required column(s) {missing}; found {columns}")
        if "label" not in columns and not all(c in columns for c in CLASSES):
            raise ValueError(f"{path}: needs a 'label' column or all 8 score columns {list(CLASSES)}")
        unknown = sorted(set(columns) - KNOWN)
        if unknown:
            log.warning("%s: ignoring unknown column(s) %s", path, unknown)
        return columns, chunks
    raise FileNotFoundError(f"manifest: no {' or '.join(candidates)} in {root}")


def _csv_chunks(path: Path, rows: int, options: dict) -> Iterator[pd.DataFrame]:
    try:
        with path.open("rb") as f, pd.read_csv(f, chunksize=rows, **options) as reader:  # closed on error too
            yield from reader
    except pd.errors.ParserError as exc:  # e.g. a line with more fields than the header
        raise ValueError(f"{path}: malformed CSV: {exc}") from exc


def load_manifest_file(root: Path, manifest_file: str | None = None) -> pd.DataFrame:
    """The whole manifest table as one DataFrame (see :func:`manifest_chunks`)."""
    columns, chunks = manifest_chunks(root, manifest_file)
    frames = list(chunks)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def _lexically_inside(rel: str) -> bool:
    """False for empty, absolute or ``..`` paths; symlinks out of the root are caught while
    probing (``TableBuilder(confine_to_root=True)``), in the scan's worker processes."""
    return bool(rel) and not os.path.isabs(rel) and ".." not in rel.replace("\\", "/").split("/")


def _float(v) -> float | None:
    if v is None or (isinstance(v, str) and v.strip() == ""):
        return None
    f = float(v)
    return None if np.isnan(f) else f


def read(root: Path, *, scan: ScanSettings | None = None, manifest_file: str | None = None,
         label_map: Mapping[str, Mapping[str, float]] | None = None, name: str = "manifest") -> CorpusTables:
    """Read a user corpus described by ``manifest.csv``/``manifest.parquet`` under ``root``."""
    root = require_root(root, name)
    columns, chunks = manifest_chunks(root, manifest_file, rows=CHUNK_ROWS)
    lmap = {**LABEL_MAP, **(label_map or {})}
    b = TableBuilder(SPEC, root, scan, confine_to_root=True)
    has_scores = all(c in columns for c in CLASSES)
    label_scores: dict[str, list[float] | None] = {}  # label text -> score vector (looked up once)
    for df in chunks:
        _add_rows(b, df, root, lmap, has_scores, label_scores)
    return b.finish()


def _add_rows(b: TableBuilder, df: pd.DataFrame, root: Path, lmap: Mapping[str, Mapping[str, float]],
              has_scores: bool, label_scores: dict[str, list[float] | None]) -> None:
    """Add one chunk of manifest rows to ``b`` (or reject them)."""
    root_s = str(root)
    n = len(df)

    def column(name: str, default: object = "") -> list:  # lists, not per-row dicts: this loop is the scan's serial part
        return df[name].tolist() if name in df.columns else [default] * n

    score_cols = list(zip(*(column(c) for c in CLASSES), strict=True)) if has_scores else [()] * n
    for rel, label, speaker, language, gender, split, start_v, end_v, raw in zip(
            column("path"), column("label"), column("speaker"), column("language"), column("gender"),
            column("split"), column("start_s", None), column("end_s", None), score_cols, strict=True):
        listed = str(rel).strip()
        if not _lexically_inside(listed):
            b.reject(listed, Reason.OUTSIDE_ROOT, f"path {listed!r} escapes the corpus root {root}")
            continue
        # ./a.wav and a//b.wav -> a.wav, a/b.wav: one spelling per file, so one file is one id
        rel = posixpath.normpath(listed)
        path = os.path.join(root_s, rel)
        try:
            values = [_float(v) for v in raw]
            if raw and any(v is not None for v in values):
                # a row with scores: an empty or NaN cell is a NaN score (TableBuilder rejects it
                # as nan_scores), not a reason to fall back to the label
                scores, source = [math.nan if v is None else v for v in values], label or None
            else:
                label = str(label).strip()
                scores = label_scores.get(label, False)
                if scores is False:
                    row = lookup_label(lmap, label) if label else None
                    scores = None if row is None else score_vector(row).tolist()
                    if len(label_scores) < MAX_CACHED_LABELS:
                        label_scores[label] = scores
                source = label
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
              official_split=(str(split).strip() or None), start_s=start, end_s=end, utterance_key=key,
              listed_as=listed if listed != rel else None)
