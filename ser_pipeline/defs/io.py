"""Parquet/JSON IO manager: deterministic, atomic files under the data dir (a local folder or
object storage).

DataFrames become ``<base>/<asset key path>.parquet`` with a fixed schema, sorted rows (by the
first id-like column) and no volatile metadata, written to a temporary file and renamed, so a
re-materialization of unchanged data gives a byte-identical file and an interrupted write
leaves the previous file intact. dicts become ``.json``.

On object storage (``SER_DATA_DIR=s3://bucket/data``) the same bytes are written to a local
temporary file in the scratch folder (:func:`ser_pipeline.settings.scratch_dir`) and uploaded in
one ``put_file`` (one PUT; above s3fs's multipart size a multipart upload, which shows no object
until it completes), so a reader never sees a partial object. Reads are one GET each
(``cat_file``, no listing cache), so a table another process just wrote is seen.

Not Dagster's ``UPathIOManager``: it has one file extension per manager (we store Parquet and
JSON), always writes the output (an absent corpus yields none, and a never-stored table loads
empty, :data:`LOADS_EMPTY_WHEN_ABSENT`), and cannot move a scan's staged file into place.
"""


import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ser_pipeline import settings, storage
from ser_pipeline.defs.resources import DataDirResource
from ser_pipeline.defs.ui_metadata import column_schema
from ser_pipeline.storage import StoragePath

#: asset metadata flag: while the asset was never materialized, downstream inputs load an empty
#: table (a corpus absent from the corpora root is never materialized)
LOADS_EMPTY_WHEN_ABSENT = "ser/loads_empty_when_absent"


def upload(src: Path, dest: StoragePath) -> None:
    """Put local file ``src`` at object ``dest`` in one upload (a failure names the URL and cause)."""
    try:
        dest.fs.put_file(str(src), dest.path)
    except Exception as exc:
        raise storage.StorageError(storage.describe_error(str(dest), exc)) from exc


def atomic_write_bytes(path: StoragePath, write) -> None:
    """Call ``write(tmp_path)`` on a local temporary file, then put it at ``path``: a rename in the
    same folder for a local path, one upload from the scratch folder for object storage."""
    remote = storage.is_remote(path)
    folder = settings.scratch_dir() if remote else path.parent
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        if remote:
            upload(Path(tmp), path)
        else:
            os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


#: rows per Parquet row group (readers stream a file group by group)
ROW_GROUP_ROWS = 65536


def write_parquet(df: pd.DataFrame, path: StoragePath) -> pa.Schema:
    """Deterministic Parquet: no pandas index, fixed compression, row groups, written atomically
    (:func:`atomic_write_bytes`). Returns the schema of the file written."""
    table = pa.Table.from_pandas(df.reset_index(drop=True), preserve_index=False)
    schema = []

    def write(tmp: Path) -> None:
        pq.write_table(table, tmp, compression="zstd", row_group_size=ROW_GROUP_ROWS)
        schema.append(pq.read_schema(tmp))

    atomic_write_bytes(path, write)
    return schema[0]


def read_file(path: StoragePath, load) -> Any:
    """``load(file)`` of the file at ``path``, or None when there is none: a local path is opened
    in place; an object is fetched in one GET (no listing, so never a stale listing cache)."""
    if not storage.is_remote(path):
        return load(path) if path.is_file() else None
    try:
        data = path.fs.cat_file(path.path)
    except FileNotFoundError:
        return None
    except Exception as exc:
        raise storage.StorageError(storage.describe_error(str(path), exc)) from exc
    return load(io.BytesIO(data))


def read_parquet(path: StoragePath) -> pd.DataFrame | None:
    """The table stored at ``path`` (local or object storage), or None when there is none."""
    return read_file(path, pd.read_parquet)


def _read_json(path: StoragePath) -> Any:
    return read_file(path, lambda f: json.loads(f.read_text() if isinstance(f, Path) else f.read()))


class StoredParquet(NamedTuple):
    """A Parquet file an asset has already written (a scan streams its rows into it); the IO
    manager moves it to the asset's place instead of holding the table in memory."""

    path: Path
    rows: int


def move_into_place(src: Path, dest: StoragePath) -> None:
    """Rename local file ``src`` onto ``dest`` (atomic on one filesystem), else copy atomically
    (another filesystem) or upload it (object storage), and delete ``src``."""
    if storage.is_remote(dest):
        upload(src, dest)
        Path(src).unlink(missing_ok=True)
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(src, dest)
    except OSError:  # another filesystem
        atomic_write_bytes(dest, lambda tmp: shutil.copyfile(src, tmp))
        Path(src).unlink(missing_ok=True)


def assets_dir(data_dir: DataDirResource) -> StoragePath:
    """Where the IO manager keeps asset values: ``<data dir>/assets``."""
    return data_dir.base() / "assets"


def asset_path(data_dir: DataDirResource, key: dg.AssetKey, suffix: str = ".parquet") -> StoragePath:
    """The stored file of asset ``key``: ``<data dir>/assets/<key path>.<suffix>``."""
    return assets_dir(data_dir).joinpath(*key.path).with_suffix(suffix)


def read_stored_table(data_dir: DataDirResource, key: dg.AssetKey) -> pd.DataFrame:
    """The stored table of asset ``key`` as the IO manager wrote it; empty if never materialized."""
    table = read_parquet(asset_path(data_dir, key))
    return pd.DataFrame() if table is None else table


class ParquetIOManager(dg.ConfigurableIOManager):
    """Stores DataFrame outputs as Parquet (a :class:`StoredParquet` is moved into place) and
    dict outputs as JSON under ``<data dir>/assets``; inputs load as DataFrames.

    The data folder is the nested :class:`DataDirResource`, the same one the assets write beside."""

    data_dir: DataDirResource

    def _base(self) -> StoragePath:
        return assets_dir(self.data_dir)

    def _path(self, context, suffix: str) -> StoragePath:
        return asset_path(self.data_dir, context.asset_key, suffix)

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if obj is None:
            return
        if isinstance(obj, StoredParquet):
            path = self._path(context, ".parquet")
            schema = pq.read_schema(obj.path)
            move_into_place(Path(obj.path), path)
            context.add_output_metadata({"path": dg.MetadataValue.path(str(path)), "dagster/row_count": obj.rows,
                                         "dagster/column_schema": column_schema(schema)})
        elif isinstance(obj, pd.DataFrame):
            path = self._path(context, ".parquet")
            schema = write_parquet(obj, path)
            context.add_output_metadata({"path": dg.MetadataValue.path(str(path)),
                                         "dagster/row_count": len(obj),
                                         "dagster/column_schema": column_schema(schema)})
        elif isinstance(obj, dict):
            path = self._path(context, ".json")
            atomic_write_bytes(path, lambda tmp: tmp.write_text(json.dumps(obj, indent=2, sort_keys=True)))
            context.add_output_metadata({"path": dg.MetadataValue.path(str(path))})
        else:
            raise TypeError(f"{context.asset_key.to_user_string()}: cannot store {type(obj).__name__}; "
                            "expected a pandas DataFrame, a StoredParquet or a dict")

    def load_input(self, context: dg.InputContext) -> Any:
        if context.upstream_output is not None:
            for suffix, load in ((".parquet", read_parquet), (".json", _read_json)):
                value = load(self._path(context.upstream_output, suffix))
                if value is not None:
                    return value
        if context.upstream_output and context.upstream_output.definition_metadata.get(LOADS_EMPTY_WHEN_ABSENT):
            return pd.DataFrame()  # never materialized: its corpus has never been present
        raise FileNotFoundError(f"{context.asset_key.to_user_string()}: no stored table under {self._base()}; "
                                "materialize it first")
