"""Where a scan's manifest rows go when they are not kept: a Parquet file, written row group by
row group as the scan builds them, with running totals for the summary a user sees.

>>> from ser_pipeline.corpora import read_corpus_to_parquet
>>> stats, rejects = read_corpus_to_parquet("ravdess", "/data/ravdess", "ravdess.parquet")  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import os
import re
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ser_pipeline.corpora.base import schema_with_pandas_metadata
from ser_pipeline.procs import process_alive
from ser_pipeline.emotions import CLASSES, N_CLASSES


@dataclasses.dataclass
class ManifestStats:
    """Running totals over the rows written (what the Dagster UI shows for a corpus table)."""

    rows: int = 0
    seconds: float = 0.0
    speakers: set[str] = dataclasses.field(default_factory=set)
    languages: set[str] = dataclasses.field(default_factory=set)
    sample_rates: set[int] = dataclasses.field(default_factory=set)
    class_counts: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(N_CLASSES, dtype=np.int64))

    def update(self, batch: pa.RecordBatch) -> None:
        """Add one batch of manifest rows."""
        if batch.num_rows == 0:
            return
        self.rows += batch.num_rows
        self.seconds += float(pc.sum(batch.column("duration_s")).as_py() or 0.0)
        self.speakers.update(pc.unique(batch.column("speaker")).to_pylist())
        self.languages.update(v for v in pc.unique(batch.column("language")).to_pylist() if v is not None)
        self.sample_rates.update(pc.unique(batch.column("sample_rate")).to_pylist())
        scores = np.stack([batch.column(c).to_numpy(zero_copy_only=False) for c in CLASSES], axis=1)
        self.class_counts += np.bincount(scores.argmax(axis=1), minlength=N_CLASSES)

    def class_histogram(self) -> dict[str, int]:
        """Hard-label (argmax of the raw scores) count per class."""
        return {c: int(n) for c, n in zip(CLASSES, self.class_counts, strict=True)}


class ParquetSink:
    """Receives a scan's manifest batches and writes each as a Parquet row group at once.

    Memory stays at one batch whatever the corpus size. The file carries the pandas metadata a
    DataFrame of the same table would, so ``pd.read_parquet`` gives the same dtypes.
    """

    def __init__(self, path: str | Path, compression: str = "zstd"):
        self.path = Path(path)
        self.compression = compression
        self.stats = ManifestStats()
        self._writer: pq.ParquetWriter | None = None

    def write_batch(self, batch: pa.RecordBatch) -> None:
        """Append ``batch`` as one row group (the first batch fixes the schema)."""
        if self._writer is None:
            self._open(batch.schema)
        self._writer.write_batch(batch)
        self.stats.update(batch)

    def close(self, schema: pa.Schema) -> None:
        """Finish the file; with no rows written, an empty file with ``schema``."""
        if self._writer is None:
            self._open(schema)
        self._writer.close()

    def _open(self, schema: pa.Schema) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = pq.ParquetWriter(self.path, schema_with_pandas_metadata(schema), compression=self.compression)


# --- staging files --------------------------------------------------------------------------

#: ``.<name>.pid<pid>.<random>.tmp``: a scan's file while it is written (the pid says whose it is)
_STAGING = re.compile(r"^\..+\.pid(\d+)\.[^.]*\.tmp$")


def staging_file(path: Path) -> Path:
    """Create and return an empty staging file next to ``path`` (same folder, so the final
    rename is atomic), named after this process's pid so a later scan can tell whether its writer
    is gone: ``.<name>.pid<pid>.<random>.tmp``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.pid{os.getpid()}.", suffix=".tmp")
    os.close(fd)
    return Path(tmp)


def remove_stale_staging(folder: Path) -> list[Path]:
    """Delete staging files in ``folder`` whose writing process no longer exists (a scan killed
    with SIGKILL leaves its torn file behind); files of live processes are left alone. Returns
    the files removed."""
    removed = []
    if not folder.is_dir():
        return removed
    for entry in os.scandir(folder):
        m = _STAGING.match(entry.name)
        if m and entry.is_file(follow_symlinks=False) and not process_alive(int(m.group(1))):
            Path(entry.path).unlink(missing_ok=True)
            removed.append(Path(entry.path))
    return removed
