"""Parquet/JSON IO manager: deterministic, atomic files under the data dir.

DataFrames become ``<base>/<asset key path>.parquet`` with a fixed schema, sorted rows (by the
first id-like column) and no volatile metadata, written to a temporary file and renamed, so a
re-materialization of unchanged data gives a byte-identical file and an interrupted write
leaves the previous file intact. dicts become ``.json``.
"""


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

from ser_pipeline.defs.resources import DataDirResource
from ser_pipeline.defs.ui_metadata import column_schema

#: asset metadata flag: while the asset was never materialized, downstream inputs load an empty
#: table (a corpus absent from the corpora root is never materialized)
LOADS_EMPTY_WHEN_ABSENT = "ser/loads_empty_when_absent"


def atomic_write_bytes(path: Path, write) -> None:
    """Call ``write(tmp_path)`` then rename onto ``path`` (same folder, so the rename is atomic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


#: rows per Parquet row group (readers stream a file group by group)
ROW_GROUP_ROWS = 65536


def write_parquet(df: pd.DataFrame, path: Path) -> None:
    """Deterministic Parquet: no pandas index, fixed compression, row groups, atomic rename."""
    table = pa.Table.from_pandas(df.reset_index(drop=True), preserve_index=False)
    atomic_write_bytes(path, lambda tmp: pq.write_table(table, tmp, compression="zstd",
                                                        row_group_size=ROW_GROUP_ROWS))


class StoredParquet(NamedTuple):
    """A Parquet file an asset has already written (a scan streams its rows into it); the IO
    manager moves it to the asset's place instead of holding the table in memory."""

    path: Path
    rows: int


def move_into_place(src: Path, dest: Path) -> None:
    """Rename ``src`` onto ``dest`` (atomic on one filesystem), else copy atomically and delete."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(src, dest)
    except OSError:  # another filesystem
        atomic_write_bytes(dest, lambda tmp: shutil.copyfile(src, tmp))
        Path(src).unlink(missing_ok=True)


def assets_dir(data_dir: DataDirResource) -> Path:
    """Where the IO manager keeps asset values: ``<data dir>/assets``."""
    return data_dir.base() / "assets"


def asset_path(data_dir: DataDirResource, key: dg.AssetKey, suffix: str = ".parquet") -> Path:
    """The stored file of asset ``key``: ``<data dir>/assets/<key path>.<suffix>``."""
    return assets_dir(data_dir).joinpath(*key.path).with_suffix(suffix)


def read_stored_table(data_dir: DataDirResource, key: dg.AssetKey) -> pd.DataFrame:
    """The stored table of asset ``key`` as the IO manager wrote it; empty if never materialized."""
    path = asset_path(data_dir, key)
    return pd.read_parquet(path) if path.exists() else pd.DataFrame()


class ParquetIOManager(dg.ConfigurableIOManager):
    """Stores DataFrame outputs as Parquet (a :class:`StoredParquet` is moved into place) and
    dict outputs as JSON under ``<data dir>/assets``; inputs load as DataFrames.

    The data folder is the nested :class:`DataDirResource`, the same one the assets write beside."""

    data_dir: DataDirResource

    def _base(self) -> Path:
        return assets_dir(self.data_dir)

    def _path(self, context, suffix: str) -> Path:
        return asset_path(self.data_dir, context.asset_key, suffix)

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if obj is None:
            return
        if isinstance(obj, StoredParquet):
            path = self._path(context, ".parquet")
            move_into_place(Path(obj.path), path)
            context.add_output_metadata({"path": dg.MetadataValue.path(str(path)), "dagster/row_count": obj.rows,
                                         "dagster/column_schema": column_schema(pq.read_schema(path))})
        elif isinstance(obj, pd.DataFrame):
            path = self._path(context, ".parquet")
            write_parquet(obj, path)
            context.add_output_metadata({"path": dg.MetadataValue.path(str(path)),
                                         "dagster/row_count": len(obj),
                                         "dagster/column_schema": column_schema(pq.read_schema(path))})
        elif isinstance(obj, dict):
            path = self._path(context, ".json")
            atomic_write_bytes(path, lambda tmp: tmp.write_text(json.dumps(obj, indent=2, sort_keys=True)))
            context.add_output_metadata({"path": dg.MetadataValue.path(str(path))})
        else:
            raise TypeError(f"{context.asset_key.to_user_string()}: cannot store {type(obj).__name__}; "
                            "expected a pandas DataFrame, a StoredParquet or a dict")

    def load_input(self, context: dg.InputContext) -> Any:
        for suffix, load in ((".parquet", pd.read_parquet), (".json", lambda p: json.loads(Path(p).read_text()))):
            path = self._path(context.upstream_output, suffix) if context.upstream_output else None
            if path is not None and path.exists():
                return load(path)
        if context.upstream_output and context.upstream_output.definition_metadata.get(LOADS_EMPTY_WHEN_ABSENT):
            return pd.DataFrame()  # never materialized: its corpus has never been present
        raise FileNotFoundError(f"{context.asset_key.to_user_string()}: no stored table under {self._base()}; "
                                "materialize it first")
