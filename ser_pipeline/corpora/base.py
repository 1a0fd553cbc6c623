"""What every corpus reader shares: the spec, the table schemas, the table builder.

A reader module (``ser_pipeline/corpora/<name>.py``) declares ``SPEC`` and ``LABEL_MAP`` and one
public function ``read(root: Path, *, scan: ScanSettings | None = None, **options) -> CorpusTables``.
It walks the corpus exactly as distributed, builds rows with ``TableBuilder(SPEC, root, scan)``, and
returns the manifest (one row per utterance) and the rejects (one row per file that could not
become a row, with a reason). ``scan`` (processes, progress, memory cap, sink) is passed
explicitly; None means ``ScanSettings()``, whose defaults come from :mod:`ser_pipeline.settings`.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa

from ser_pipeline.corpora.keyset import KeySet
from ser_pipeline.corpora.probe import (  # noqa: F401  (re-exported: readers import them from here)
    MAX_DURATION_S, AudioInfo, AudioProbeError, HeaderProber, Reason, ScanSettings, probe_audio,
)
from ser_pipeline.emotions import CLASSES, N_CLASSES
from ser_pipeline.labels.intensity import intensity as _intensity
from ser_pipeline.storage import (RemoteFile, StoragePath, check_access, is_remote, list_files, location,
                                  read_bytes)

Role = Literal["train", "test", "zero_shot", "finetune", "user"]
Seconds = float

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")


class CorpusNotFoundError(FileNotFoundError):
    """The corpus folder does not exist (the Dagster asset turns this into a skip, not a failure)."""


@dataclasses.dataclass(frozen=True)
class CorpusSpec:
    """Static description of one corpus (docs/corpora.md is generated from these)."""

    name: str  # registry name, also the first part of every utterance_id
    title: str  # human name, e.g. "RAVDESS"
    role: Role  # train | test | zero_shot | finetune | user
    languages: tuple[str, ...]  # ISO 639-1
    layout: str  # the expected on-disk tree, as text
    soft_label_source: str  # which fields feed the raw scores
    label_map: Mapping[str, Mapping[str, float]] = dataclasses.field(default_factory=dict)
    sample_rates_hz: tuple[int, ...] = ()  # as distributed (documentation; files are probed)
    extra_columns: Mapping[str, pa.DataType] = dataclasses.field(default_factory=dict)
    assumptions: str = ""  # what the reader assumes where corpora.md says "unconfirmed"
    code_version: str = "1"  # bump when the reader or its label map changes


# --- schemas --------------------------------------------------------------------------------

MANIFEST_FIELDS: list[pa.Field] = [
    pa.field("utterance_id", pa.string(), nullable=False),  # "<corpus>/<relative path w/o ext>"
    pa.field("corpus", pa.string(), nullable=False),
    pa.field("path", pa.string(), nullable=False),  # relative to the corpus root, POSIX
    pa.field("speaker", pa.string(), nullable=False),  # corpus-qualified, e.g. "ravdess/03"
    pa.field("gender", pa.string()),  # "F" / "M" / null
    pa.field("language", pa.string(), nullable=False),  # ISO 639-1
    pa.field("duration_s", pa.float64(), nullable=False),  # seconds of this utterance
    pa.field("sample_rate", pa.int32(), nullable=False),  # Hz, probed from the header
    pa.field("channels", pa.int16(), nullable=False),  # as stored; readers down-mix
    pa.field("source_label", pa.string()),  # the corpus's own label text, verbatim
    pa.field("official_split", pa.string()),  # e.g. IEMOCAP "Session4", MSP "Train"
    pa.field("n_raters", pa.int32()),  # raters behind the vote, where votes exist
    pa.field("start_s", pa.float64()),  # segment start inside `path` (seconds), else null
    pa.field("end_s", pa.float64()),  # segment end inside `path` (seconds), else null
    *[pa.field(c, pa.float64(), nullable=False) for c in CLASSES],  # raw scores in [0, 1]
    pa.field("intensity", pa.float64(), nullable=False),  # E_i (paper §2.2)
]
MANIFEST_COLUMNS = [f.name for f in MANIFEST_FIELDS]

REJECTS_SCHEMA = pa.schema(
    [
        pa.field("corpus", pa.string(), nullable=False),
        pa.field("path", pa.string(), nullable=False),  # relative to the corpus root when inside it
        pa.field("reason", pa.string(), nullable=False),  # one of Reason.ALL
        pa.field("detail", pa.string()),  # free text for a person
    ]
)


def manifest_schema(extra_columns: Mapping[str, pa.DataType] | None = None) -> pa.Schema:
    """The manifest schema, with a corpus's extra columns appended in declaration order."""
    fields = list(MANIFEST_FIELDS)
    for name, dtype in (extra_columns or {}).items():
        fields.append(pa.field(name, dtype))
    return pa.schema(fields)


class CorpusTables(NamedTuple):
    """A reader's result: the manifest and the rejects, as pandas DataFrames (the manifest is
    empty when a sink in the scan settings took its rows)."""

    manifest: pd.DataFrame
    rejects: pd.DataFrame


def require_root(root: StoragePath | str, name: str) -> StoragePath:
    """Return ``root`` as a Path (or, for object storage, a UPath), or raise
    :class:`CorpusNotFoundError` naming it.

    Object storage: one listing of the whole prefix (fsspec ``find``), which fills the listing
    cache, so the reader's later ``exists()``/``is_file()``/``glob()`` calls and :func:`walk_audio`
    cost no request. A missing bucket, rejected credentials or an unreachable endpoint is a
    :class:`~ser_pipeline.storage.StorageError` naming the URL and the cause."""
    root = location(root, "corpus root")
    if is_remote(root):
        if not check_access(root):
            raise CorpusNotFoundError(f"{name}: corpus folder not found: {root}")
        list_files(root)  # one listing; later lookups are answered from fsspec's cache
        return root
    if not root.is_dir():
        raise CorpusNotFoundError(f"{name}: corpus folder not found: {root}")
    return root


def _parts_key(path: StoragePath) -> tuple[str, ...]:
    return path.parts


def walk_audio(root: StoragePath, subdir: str | None = None) -> list[StoragePath]:
    """All audio files below ``root/subdir`` (case-insensitive extension), sorted by path parts,
    links kept. On object storage from fsspec's listing cache (filled by :func:`require_root`)."""
    base = root / subdir if subdir else root
    if not base.is_dir():
        return []
    found = []
    if is_remote(base):
        fs, top = base.fs, base.path.rstrip("/")
        for dirpath, _dirnames, filenames in fs.walk(top):
            rel = dirpath.rstrip("/")[len(top):].strip("/")
            folder = base / rel if rel else base
            found.extend(folder / fn for fn in filenames
                         if fn.lower().endswith(AUDIO_EXTENSIONS) and not fn.startswith("._"))
        return sorted(found, key=_parts_key)
    for dirpath, _dirnames, filenames in os.walk(base, followlinks=False):
        for fn in filenames:
            if fn.lower().endswith(AUDIO_EXTENSIONS) and not fn.startswith("._"):
                found.append(Path(dirpath) / fn)
    return sorted(found)


# --- building tables ------------------------------------------------------------------------


class _Queued(NamedTuple):
    """One :meth:`TableBuilder.add` call, kept until :meth:`TableBuilder.finish` (small: no audio)."""

    path: str
    rel: str
    uid: str
    scores: list[float]
    speaker: str | None
    language: str
    source_label: str | None
    gender: str | None
    official_split: str | None
    n_raters: int | None
    start_s: float | None
    end_s: float | None
    extra: Mapping[str, Any] | None
    listed_as: str | None  # the path as the label file spelled it, where that differs from rel


#: rows per Arrow batch (and Parquet row group when streaming to a sink)
ROW_GROUP_ROWS = 16384
#: the largest raw score (docs/labels.md: scores lie in [0, 1]; the tolerance of corpora/validate.py)
MAX_SCORE = 1.0 + 1e-9


class TableBuilder:
    """Collects rows and rejects for one corpus and turns them into typed, sorted tables.

    Every audio file a reader sees must end up in exactly one of :meth:`add` or :meth:`reject`;
    :meth:`reject_unclaimed` turns audio that no label referenced into ``label_missing`` rejects.
    Files are probed (header only) while the reader is still adding rows, in worker processes
    when the :class:`ScanSettings` ask for them, and rows are built as their probes come back, into
    Arrow batches of :data:`ROW_GROUP_ROWS` (no per-row dicts) that are kept or, with a sink,
    written out at once.
    """

    def __init__(self, spec: CorpusSpec, root: Path, scan: ScanSettings | None = None, *,
                 confine_to_root: bool = False):
        """``scan``: how to scan (None = ``ScanSettings()``); with ``scan.sink`` set, built rows
        stream into the sink instead of being kept. ``confine_to_root``: reject files whose resolved
        path leaves the root (user manifests); checked while probing, so it runs in the scan's
        worker processes too."""
        self.spec = spec
        self.root = location(root, "corpus root")
        self._remote = is_remote(self.root)
        self._root_prefix = str(self.root).rstrip("/" if self._remote else os.sep) + ("/" if self._remote else os.sep)
        self._settings = scan if scan is not None else ScanSettings()
        # object storage has no links to escape through: paths are confined by construction
        confine = os.path.realpath(self.root) if confine_to_root and not self._remote else None
        self._prober = HeaderProber(confine, self._settings)
        self._queued: collections.deque[_Queued] = collections.deque()  # added, not yet a row
        self._rows: list[tuple] = []  # built, not yet in a batch
        self._done: list[pa.RecordBatch] = []
        self._schema = manifest_schema(spec.extra_columns)
        self._extra_names = list(spec.extra_columns)
        self._rejects: list[dict[str, Any]] = []
        # Per-file bookkeeping lives as long as the scan, so its memory is bounded (KeySet).
        self._claimed = KeySet(self._settings.memory_keys)  # rels handled by add/reject/claim
        self._taken = KeySet(self._settings.memory_keys)  # utterance ids already in the table
        # rel -> queued rows that still need its probe; a rel is being probed exactly when it is
        # here. Bounded by the queue, which the prober's backlog bounds.
        self._waiting: dict[str, int] = {}

    # relative POSIX path of a file inside the root
    def rel(self, path: Path | str) -> str:
        p = str(path)
        if p.startswith(self._root_prefix):
            return p[len(self._root_prefix):].replace(os.sep, "/")
        return Path(p).as_posix()

    def reject(self, path: Path | str, reason: str, detail: str = "") -> None:
        """Record that ``path`` could not become a row, with one of :class:`Reason`."""
        if reason not in Reason.ALL:
            raise ValueError(f"unknown reject reason {reason!r}; expected one of {Reason.ALL}")
        rel = self.rel(path)
        self._claimed.add(rel)
        # paths in the detail relative to the root: a rejects table reads the same from any
        # machine, local folder or bucket
        detail = detail.replace(self._root_prefix, "")
        self._rejects.append({"corpus": self.spec.name, "path": rel, "reason": reason, "detail": detail})

    def claim(self, path: Path | str) -> None:
        """Mark a file as handled without a row (e.g. a segment source already rejected)."""
        self._claimed.add(self.rel(path))

    def add(
        self,
        path: Path | str,
        scores: np.ndarray | list[float],
        *,
        speaker: str | None,
        language: str,
        source_label: str | None,
        gender: str | None = None,
        official_split: str | None = None,
        n_raters: int | None = None,
        start_s: float | None = None,
        end_s: float | None = None,
        utterance_key: str | None = None,
        extra: Mapping[str, Any] | None = None,
        listed_as: str | None = None,
    ) -> bool:
        """Queue one row for ``path``; its header is probed in the background, and :meth:`finish`
        turns it into a row, or into a reject (unreadable audio, zero length, duplicate id, ...).

        Args:
            path: the audio file (absolute, inside the root).
            scores: raw score vector, shape (8,), in [0, 1] (docs/labels.md), before normalisation.
            speaker: the corpus's own speaker id (qualified here as ``<corpus>/<id>``); None =
                unknown.
            start_s, end_s: segment bounds inside the file in seconds (clamped to the file).
            utterance_key: replaces the relative path without extension in the utterance id
                (segments of one file need distinct keys).
            listed_as: how the label file spelled the path when it differs from the normalised
                one (``./a.wav``); named in a ``duplicate_id`` reject.
        Returns:
            False if the scores cannot make a row (rejected at once: ``nan_scores``,
            ``no_score_mass`` or ``malformed_annotation``), else True (queued).
        """
        path = str(path)
        rel = self.rel(path)
        waiting = self._waiting.get(rel, 0)
        values = scores if type(scores) is list else np.asarray(scores, dtype=np.float64).ravel().tolist()
        # Plain-Python checks (numpy reductions on 8 numbers cost more than the rest of the row).
        # The sum is finite exactly when no score is NaN or inf (or a mix of signed infinities).
        total = sum(values) if len(values) == N_CLASSES else math.nan
        if not (math.isfinite(total) and total > 0.0 and min(values) >= 0.0 and max(values) <= MAX_SCORE):
            self._reject_scores(path, values, total)
            return False
        key = utterance_key if utterance_key is not None else os.path.splitext(rel)[0]
        self._queued.append(_Queued(path, rel, f"{self.spec.name}/{key}", values, speaker, language,
                                    source_label, gender, official_split, n_raters, start_s, end_s, extra,
                                    listed_as))
        self._waiting[rel] = waiting + 1
        if not waiting:  # a rel with queued rows is claimed and being probed already
            self._claimed.add(rel)
            self._prober.request(rel, self._remote_file(path) if self._remote else path)
        if len(self._queued) >= 64:
            self._drain()
        return True

    def _remote_file(self, url: str) -> RemoteFile:
        """What a worker needs to probe an object with one GET: its URL, its size from the
        listing cache (no request) and the filesystem options."""
        fs = self.root.fs
        try:
            size = int(fs.info(url)["size"])
        except (FileNotFoundError, KeyError):
            size = -1  # the probe reports it missing
        return RemoteFile(url, size, dict(self.root.storage_options))

    def _reject_scores(self, path: str, values: list[float], total: float) -> None:
        """Reject a score vector that no table may hold, with the most specific reason."""
        nan = [c for c, v in zip(CLASSES, values, strict=False) if v != v] if len(values) == N_CLASSES else []
        if nan:
            self.reject(path, Reason.NAN_SCORES, f"NaN or missing score(s) {', '.join(nan)} in {values}")
        elif len(values) == N_CLASSES and math.isfinite(total) and total == 0.0 and min(values) == 0.0:
            self.reject(path, Reason.NO_SCORE_MASS, "all eight scores are 0: no emotion to learn from")
        else:
            self.reject(path, Reason.MALFORMED,
                        f"bad score vector {values} (expected {N_CLASSES} finite scores in [0, 1], summing above 0)")

    def named_files(self, paths: Iterable[Path], pattern: re.Pattern[str],
                    form: str) -> Iterator[tuple[Path, re.Match[str]]]:
        """Yield ``(path, match)`` for each file whose stem matches ``pattern``; reject the others
        as ``malformed_annotation`` ("file name X is not <form>"). For corpora whose labels live
        in the file names."""
        for path in paths:
            m = pattern.match(path.stem)
            if m is None:
                self.reject(path, Reason.MALFORMED, f"file name {path.name!r} is not {form}")
                continue
            yield path, m

    def reject_unclaimed(self, audio_files: Iterable[Path], detail: str = "no label file lists this audio") -> None:
        """Reject every file of ``audio_files`` that no :meth:`add`/:meth:`reject` has handled."""
        for p in audio_files:
            if self.rel(p) not in self._claimed:
                self.reject(p, Reason.LABEL_MISSING, detail)

    def finish(self) -> CorpusTables:
        """Wait for the last probes; return the typed manifest and the rejects.

        Rows keep the order the reader added them in (readers walk their corpus in a fixed
        order, so re-reads give byte-identical Parquet), whether probed here or in workers. The
        manifest is a DataFrame or, with a sink in the scan settings, empty: its rows went to the
        sink as they were built.
        """
        self._prober.wait(on_chunk=self._drain)
        self._drain()
        self._flush()
        self._claimed.close()
        self._taken.close()
        rejects = rejects_frame(self._rejects)
        sink = self._settings.sink
        if sink is not None:
            sink.close(self._schema)
            return CorpusTables(empty_manifest(self.spec.extra_columns), rejects)
        table = pa.Table.from_batches(self._done, self._schema) if self._done else self._schema.empty_table()
        self._done = []
        return CorpusTables(to_pandas(table), rejects)

    def _drain(self) -> None:
        """Turn queued rows whose probe has come back into rows, in the order they were added.

        Runs while the reader is still adding, so rows are built while workers probe; the
        first row added for an id wins, as in a sequential scan.
        """
        results = self._prober.results
        queued = self._queued
        while queued and queued[0].rel in results:
            q = queued.popleft()
            info = results[q.rel]
            waiting = self._waiting[q.rel] - 1
            if waiting:
                self._waiting[q.rel] = waiting
            else:  # no queued row needs this probe any more: forget it (a later row probes again)
                del self._waiting[q.rel], results[q.rel]
            if q.uid in self._taken:
                spelled = f"{q.listed_as!r} is the file {q.rel}: " if q.listed_as else ""
                self.reject(q.path, Reason.DUPLICATE_ID, f"{spelled}utterance id {q.uid} already taken")
                continue
            if isinstance(info, AudioProbeError):
                self.reject(q.path, info.reason, info.detail)
                continue
            duration, start_s, end_s = info.duration_s, q.start_s, q.end_s
            if start_s is not None or end_s is not None:
                s = max(0.0, float(start_s or 0.0))  # negative starts exist (CMU-MOSEI): clamp
                e = min(float(end_s) if end_s is not None else duration, duration)
                if e - s <= 0:
                    self.reject(q.path, Reason.SEGMENT_OUT_OF_RANGE,
                                f"segment [{start_s}, {end_s}] s is empty within a {duration:.3f} s file")
                    continue
                start_s, end_s, duration = s, e, e - s
            if duration > MAX_DURATION_S:
                self.reject(q.path, Reason.TOO_LONG, f"{duration:.1f} s is longer than the {MAX_DURATION_S:.0f} s "
                            "an utterance may last (a whole recording? cut it into segments)")
                continue
            self._taken.insert(q.uid)
            speaker = q.speaker if q.speaker not in (None, "") else "unknown"
            extra = q.extra or {}
            self._rows.append((q.uid, self.spec.name, q.rel, f"{self.spec.name}/{speaker}", q.gender, q.language,
                               float(duration), info.sample_rate, info.channels, q.source_label,
                               q.official_split, q.n_raters, start_s, end_s, q.scores,
                               *(extra.get(n) for n in self._extra_names)))
            if len(self._rows) >= ROW_GROUP_ROWS:
                self._flush()

    def _flush(self) -> None:
        """Built rows -> one Arrow batch (columnar, no dicts), kept or handed to the sink."""
        rows, self._rows = self._rows, []
        if not rows:
            return
        names = self._schema.names
        cols = list(zip(*rows, strict=True))
        scores = np.array(cols[14], dtype=np.float64).reshape(len(rows), N_CLASSES)
        data = dict(zip(names[:14], cols[:14], strict=True))
        data.update({c: scores[:, k] for k, c in enumerate(CLASSES)})
        data["intensity"] = _intensity(scores)
        data.update(zip(names[15 + N_CLASSES:], cols[15:], strict=True))
        batch = pa.RecordBatch.from_pydict(data, schema=self._schema)
        if self._settings.sink is not None:
            self._settings.sink.write_batch(batch)  # streamed: the scan keeps no rows
        else:
            self._done.append(batch)


#: Arrow -> pandas nullable dtypes, so an int column with nulls (n_raters) stays an integer
#: column and the Parquet written from the DataFrame keeps the declared schema.
_NULLABLE = {pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(), pa.int64(): pd.Int64Dtype(),
             pa.bool_(): pd.BooleanDtype()}


def to_pandas(table: pa.Table) -> pd.DataFrame:
    """``table.to_pandas()`` with nullable integer/boolean dtypes."""
    return table.to_pandas(types_mapper=_NULLABLE.get)


def schema_with_pandas_metadata(schema: pa.Schema) -> pa.Schema:
    """``schema`` plus the pandas metadata a DataFrame of it would carry (nullable integer dtypes
    included), so Parquet written from Arrow loads into the same DataFrame as from pandas."""
    if schema.pandas_metadata is not None:
        return schema
    empty = to_pandas(schema.empty_table())
    return schema.with_metadata(pa.Table.from_pandas(empty, schema=schema, preserve_index=False).schema.metadata)


def empty_manifest(extra_columns: Mapping[str, pa.DataType] | None = None) -> pd.DataFrame:
    """An empty manifest DataFrame with the schema's columns and dtypes."""
    return to_pandas(manifest_schema(extra_columns).empty_table())


def rejects_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Rejects rows as a sorted DataFrame with :data:`REJECTS_SCHEMA`."""
    table = pa.Table.from_pylist(rows, schema=REJECTS_SCHEMA) if rows else REJECTS_SCHEMA.empty_table()
    df = table.to_pandas()
    return df.sort_values(["path", "reason"], kind="stable").reset_index(drop=True)


def lookup_label(label_map: Mapping[str, Mapping[str, float]], code: str) -> Mapping[str, float] | None:
    """The weight row of ``code`` in ``label_map`` (exact, then case-insensitive), or None."""
    if code in label_map:
        return label_map[code]
    low = {k.lower(): v for k, v in label_map.items()}
    return low.get(code.lower())


def read_text(path: StoragePath) -> str:
    """Read a label file as text: UTF-8 first, then Latin-1 (never fails on odd bytes)."""
    data = read_bytes(location(path, "label file"))
    for enc in ("utf-8-sig", "latin-1"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace")
