"""What every corpus reader shares: the spec, the table schemas, audio probing, reject reasons.

A reader module (``ser_pipeline/corpora/<name>.py``) declares ``SPEC`` and ``LABEL_MAP`` and one
public function ``read(root: Path, **options) -> CorpusTables``. It walks the corpus exactly as
distributed, builds rows with :class:`TableBuilder`, and returns the manifest (one row per
utterance) and the rejects (one row per file that could not become a row, with a reason).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import soundfile as sf

from ser_pipeline.emotions import CLASSES, N_CLASSES
from ser_pipeline.labels.intensity import intensity as _intensity

Role = Literal["train", "test", "zero_shot", "finetune", "user"]
Seconds = float

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")


class Reason:
    """Enumerable reject reasons (the ``reason`` column of a rejects table)."""

    UNREADABLE_AUDIO = "unreadable_audio"  # soundfile cannot open or decode it
    ZERO_LENGTH = "zero_length"  # a valid header with no samples
    BAD_SAMPLES = "bad_samples"  # NaN or inf samples
    AUDIO_MISSING = "audio_missing"  # a label file lists audio that does not exist
    LABEL_MISSING = "label_missing"  # audio that no label file lists / no label in the name
    LABEL_UNKNOWN = "unknown_label"  # a label code that the label map does not know
    MALFORMED = "malformed_annotation"  # a label line or file name that cannot be parsed
    DUPLICATE_ID = "duplicate_id"  # a second file with an utterance id already taken
    NO_AGREEMENT = "no_agreement"  # no consensus and no votes to build a soft label from
    OUTSIDE_ROOT = "outside_root"  # a manifest path that escapes the corpus root
    SEGMENT_OUT_OF_RANGE = "segment_out_of_range"  # a segment that lies outside its audio file

    ALL = (
        UNREADABLE_AUDIO, ZERO_LENGTH, BAD_SAMPLES, AUDIO_MISSING, LABEL_MISSING, LABEL_UNKNOWN,
        MALFORMED, DUPLICATE_ID, NO_AGREEMENT, OUTSIDE_ROOT, SEGMENT_OUT_OF_RANGE,
    )


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
    """A reader's result: the manifest and the rejects, as pandas DataFrames."""

    manifest: pd.DataFrame
    rejects: pd.DataFrame


# --- audio probing --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class AudioInfo:
    """Header facts of one audio file (no full decode)."""

    sample_rate: int  # Hz
    channels: int
    frames: int  # samples per channel
    subtype: str

    @property
    def duration_s(self) -> Seconds:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


class AudioProbeError(Exception):
    """A file that cannot become a row; carries the reject reason."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail

    def __reduce__(self):  # picklable, so worker processes can return it
        return (AudioProbeError, (self.reason, self.detail))


def probe_audio(path: Path, confine_to: str | None = None) -> AudioInfo:
    """Read the header of ``path`` with soundfile; raise :class:`AudioProbeError` if unusable.

    ``confine_to``: a resolved folder the file must stay inside once symlinks are resolved
    (user manifests); a file outside it is rejected with ``outside_root``.
    """
    if confine_to is not None:
        real = os.path.realpath(path)
        if real != confine_to and not real.startswith(confine_to + os.sep):
            raise AudioProbeError(Reason.OUTSIDE_ROOT, f"{path} resolves to {real}, outside the corpus root")
    try:
        info = sf.info(str(path))
    except Exception as exc:  # soundfile raises LibsndfileError/RuntimeError/OSError
        if os.path.islink(path) and not os.path.exists(path):
            raise AudioProbeError(Reason.AUDIO_MISSING,
                                  f"{path}: broken symlink to {os.readlink(path)}") from exc
        if not os.path.exists(path):
            raise AudioProbeError(Reason.AUDIO_MISSING, f"{path}: no such file") from exc
        if not os.access(path, os.R_OK):
            raise AudioProbeError(Reason.UNREADABLE_AUDIO, f"{path}: permission denied") from exc
        raise AudioProbeError(Reason.UNREADABLE_AUDIO, f"{path}: {exc}") from exc
    if info.frames <= 0 or info.samplerate <= 0:
        raise AudioProbeError(Reason.ZERO_LENGTH, f"{path}: header reports {info.frames} samples")
    if info.subtype in ("FLOAT", "DOUBLE"):
        # Only float files can hold NaN/inf; PCM cannot, so the header probe suffices for those.
        _check_finite(path)
    return AudioInfo(int(info.samplerate), int(info.channels), int(info.frames), str(info.subtype))


def _check_finite(path: Path, block: int = 1 << 18) -> None:
    """Raise ``bad_samples`` if a float file holds NaN or inf (streamed; memory stays flat)."""
    try:
        for chunk in sf.blocks(str(path), blocksize=block, dtype="float32", always_2d=True):
            if not np.all(np.isfinite(chunk)):
                raise AudioProbeError(Reason.BAD_SAMPLES, f"{path}: NaN or inf samples")
    except AudioProbeError:
        raise
    except Exception as exc:
        raise AudioProbeError(Reason.UNREADABLE_AUDIO, f"{path}: {exc}") from exc


@dataclasses.dataclass
class ScanSettings:
    """How corpus scans probe audio: worker processes and a progress callback."""

    workers: int = 1  # processes probing headers (1 = in this process)
    progress: Any = None  # callable(done: int, total: int) or None
    tqdm: bool = False  # a progress bar on the terminal


_SCAN = contextvars.ContextVar("ser_scan_settings", default=ScanSettings(
    workers=int(os.environ.get("SER_SCAN_WORKERS", "1"))))


@contextlib.contextmanager
def scan_settings(**kw: Any):
    """Temporarily change :class:`ScanSettings` (e.g. ``with scan_settings(workers=4): read(...)``)."""
    token = _SCAN.set(dataclasses.replace(_SCAN.get(), **kw))
    try:
        yield _SCAN.get()
    finally:
        _SCAN.reset(token)


def _probe_or_error(path: str, confine_to: str | None = None) -> AudioInfo | AudioProbeError:
    try:
        return probe_audio(Path(path), confine_to)
    except AudioProbeError as err:
        return err


def probe_many(paths: Mapping[str, Path], confine_to: str | None = None) -> dict[str, AudioInfo | AudioProbeError]:
    """Probe many files (key -> path), in worker processes when the scan settings say so."""
    settings = _SCAN.get()
    keys = list(paths)
    out: dict[str, AudioInfo | AudioProbeError] = {}
    bar = None
    if settings.tqdm and keys:
        from tqdm import tqdm

        bar = tqdm(total=len(keys), unit="file", desc="probing audio", leave=False)
    step = max(1, len(keys) // 20)

    def done(i: int) -> None:
        if bar is not None:
            bar.update(1)
        if settings.progress is not None and (i % step == 0 or i == len(keys)):
            settings.progress(i, len(keys))

    if settings.workers > 1 and len(keys) >= 64:
        import concurrent.futures as cf

        chunk = max(16, len(keys) // (settings.workers * 8))
        with cf.ProcessPoolExecutor(settings.workers) as pool:
            for i, (k, res) in enumerate(zip(keys, pool.map(_probe_or_error, [str(paths[k]) for k in keys],
                                                            [confine_to] * len(keys), chunksize=chunk),
                                             strict=True), 1):
                out[k] = res
                done(i)
    else:
        for i, k in enumerate(keys, 1):
            out[k] = _probe_or_error(str(paths[k]), confine_to)
            done(i)
    if bar is not None:
        bar.close()
    return out


def require_root(root: Path | str, name: str) -> Path:
    """Return ``root`` as a Path, or raise :class:`CorpusNotFoundError` naming it."""
    root = Path(root)
    if not root.is_dir():
        raise CorpusNotFoundError(f"{name}: corpus folder not found: {root}")
    return root


def walk_audio(root: Path, subdir: str | None = None) -> list[Path]:
    """All audio files below ``root/subdir`` (case-insensitive extension), sorted, links kept."""
    base = root / subdir if subdir else root
    if not base.is_dir():
        return []
    found = []
    for dirpath, _dirnames, filenames in os.walk(base, followlinks=False):
        for fn in filenames:
            if fn.lower().endswith(AUDIO_EXTENSIONS) and not fn.startswith("._"):
                found.append(Path(dirpath) / fn)
    return sorted(found)


# --- building tables ------------------------------------------------------------------------


class TableBuilder:
    """Collects rows and rejects for one corpus and turns them into typed, sorted tables.

    Every audio file a reader sees must end up in exactly one of :meth:`add` or :meth:`reject`;
    :meth:`reject_unclaimed` turns audio that no label referenced into ``label_missing`` rejects.
    """

    def __init__(self, spec: CorpusSpec, root: Path, *, confine_to_root: bool = False):
        """``confine_to_root``: reject files whose resolved path leaves the root (user manifests);
        checked while probing, so it runs in the scan's worker processes too."""
        self.spec = spec
        self._confine = os.path.realpath(root) if confine_to_root else None
        self.root = Path(root)
        self._root_prefix = str(self.root).rstrip(os.sep) + os.sep
        self._rows: list[dict[str, Any]] = []
        self._rejects: list[dict[str, Any]] = []
        self._ids: set[str] = set()
        self._claimed: set[str] = set()
        self._probe_cache: dict[str, AudioInfo | AudioProbeError] = {}
        self._pending: list[tuple[Path, str, str, np.ndarray, dict[str, Any]]] = []

    # relative POSIX path of a file inside the root
    def rel(self, path: Path | str) -> str:
        p = str(path)
        if p.startswith(self._root_prefix):
            return p[len(self._root_prefix):].replace(os.sep, "/")
        return Path(p).as_posix()

    def probe(self, path: Path) -> AudioInfo:
        key = self.rel(path)
        if key not in self._probe_cache:
            try:
                self._probe_cache[key] = probe_audio(path, self._confine)
            except AudioProbeError as err:
                self._probe_cache[key] = err
        got = self._probe_cache[key]
        if isinstance(got, AudioProbeError):
            raise got
        return got

    def reject(self, path: Path | str, reason: str, detail: str = "") -> None:
        """Record that ``path`` could not become a row, with one of :class:`Reason`."""
        if reason not in Reason.ALL:
            raise ValueError(f"unknown reject reason {reason!r}; expected one of {Reason.ALL}")
        rel = self.rel(path)
        self._claimed.add(rel)
        self._rejects.append({"corpus": self.spec.name, "path": rel, "reason": reason, "detail": detail})

    def claim(self, path: Path | str) -> None:
        """Mark a file as handled without a row (e.g. a segment source already rejected)."""
        self._claimed.add(self.rel(path))

    def add(
        self,
        path: Path,
        scores: np.ndarray,
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
    ) -> bool:
        """Queue one row for ``path``; :meth:`finish` probes the audio (in parallel) and turns it
        into a row, or into a reject (unreadable audio, zero length, duplicate id, ...).

        Args:
            path: the audio file (absolute, inside the root).
            scores: raw score vector, shape (8,), in [0, 1] (labels.md), before normalisation.
            speaker: the corpus's own speaker id (qualified here as ``<corpus>/<id>``); None =
                unknown.
            start_s, end_s: segment bounds inside the file in seconds (clamped to the file).
            utterance_key: replaces the relative path without extension in the utterance id
                (segments of one file need distinct keys).
        Returns:
            False if the scores are malformed (rejected at once), else True (queued).
        """
        rel = self.rel(path)
        self._claimed.add(rel)
        scores = np.asarray(scores, dtype=np.float64)
        if scores.shape != (N_CLASSES,) or not np.all(np.isfinite(scores)) or scores.min() < 0:
            self.reject(path, Reason.MALFORMED, f"bad score vector {scores.tolist()}")
            return False
        key = utterance_key if utterance_key is not None else os.path.splitext(rel)[0]
        self._pending.append((path, rel, f"{self.spec.name}/{key}", scores, dict(
            speaker=speaker, language=language, source_label=source_label, gender=gender,
            official_split=official_split, n_raters=n_raters, start_s=start_s, end_s=end_s, extra=extra)))
        return True

    def _row(self, path: Path, rel: str, uid: str, scores: np.ndarray, info: AudioInfo, f: dict) -> dict | None:
        duration = info.duration_s
        start_s, end_s = f["start_s"], f["end_s"]
        if start_s is not None or end_s is not None:
            s = max(0.0, float(start_s or 0.0))  # negative starts exist (CMU-MOSEI): clamp
            e = min(float(end_s) if end_s is not None else duration, duration)
            if e - s <= 0:
                self.reject(path, Reason.SEGMENT_OUT_OF_RANGE,
                            f"segment [{start_s}, {end_s}] s is empty within a {duration:.3f} s file")
                return None
            start_s, end_s, duration = s, e, e - s
        speaker = f["speaker"]
        row: dict[str, Any] = {
            "utterance_id": uid,
            "corpus": self.spec.name,
            "path": rel,
            "speaker": f"{self.spec.name}/{speaker}" if speaker not in (None, "") else f"{self.spec.name}/unknown",
            "gender": f["gender"],
            "language": f["language"],
            "duration_s": float(duration),
            "sample_rate": info.sample_rate,
            "channels": info.channels,
            "source_label": f["source_label"],
            "official_split": f["official_split"],
            "n_raters": f["n_raters"],
            "start_s": start_s,
            "end_s": end_s,
        }
        row.update({c: float(v) for c, v in zip(CLASSES, scores, strict=True)})
        row["intensity"] = float(_intensity(scores))
        for name in self.spec.extra_columns:
            row[name] = (f["extra"] or {}).get(name)
        return row

    def reject_unclaimed(self, audio_files: Iterable[Path], detail: str = "no label file lists this audio") -> None:
        """Reject every file of ``audio_files`` that no :meth:`add`/:meth:`reject` has handled."""
        for p in audio_files:
            if self.rel(p) not in self._claimed:
                self.reject(p, Reason.LABEL_MISSING, detail)

    def finish(self) -> CorpusTables:
        """Probe every queued file (header only, in parallel: see :func:`scan_settings`), then
        build typed, sorted tables (sorted so that re-reads give byte-identical Parquet)."""
        todo = {rel: path for path, rel, *_ in self._pending if rel not in self._probe_cache}
        self._probe_cache.update(probe_many(todo, self._confine))
        ids: set[str] = set()
        for path, rel, uid, scores, fields in self._pending:
            if uid in ids:
                self.reject(path, Reason.DUPLICATE_ID, f"utterance id {uid} already taken")
                continue
            got = self._probe_cache[rel]
            if isinstance(got, AudioProbeError):
                self.reject(path, got.reason, got.detail)
                continue
            row = self._row(path, rel, uid, scores, got, fields)
            if row is not None:
                ids.add(uid)
                self._rows.append(row)
        self._pending = []
        schema = manifest_schema(self.spec.extra_columns)
        manifest = empty_manifest(self.spec.extra_columns) if not self._rows else (
            to_pandas(pa.Table.from_pylist(self._rows, schema=schema))
        )
        manifest = manifest.sort_values("utterance_id", kind="stable").reset_index(drop=True)
        rejects = rejects_frame(self._rejects)
        return CorpusTables(manifest, rejects)


#: Arrow -> pandas nullable dtypes, so an int column with nulls (n_raters) stays an integer
#: column and the Parquet written from the DataFrame keeps the declared schema.
_NULLABLE = {pa.int16(): pd.Int16Dtype(), pa.int32(): pd.Int32Dtype(), pa.int64(): pd.Int64Dtype(),
             pa.bool_(): pd.BooleanDtype()}


def to_pandas(table: pa.Table) -> pd.DataFrame:
    """``table.to_pandas()`` with nullable integer/boolean dtypes."""
    return table.to_pandas(types_mapper=_NULLABLE.get)


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


def read_text(path: Path) -> str:
    """Read a label file as text: UTF-8 first, then Latin-1 (never fails on odd bytes)."""
    data = Path(path).read_bytes()
    for enc in ("utf-8-sig", "latin-1"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace")
