"""What the whole-graph tests share: a tiny training config and the resources of one data dir."""

from pathlib import Path

import dagster as dg

from ser_pipeline.defs.io import ParquetIOManager
from ser_pipeline.defs.resources import CorporaResource, DataDirResource, MlflowResource

TINY_TRAIN = {"epochs": 2, "batch_size": 8, "lr": 0.001, "window_s": 4.0,
              "model": {"d_model": 32, "encoder_layers": 1, "encoder_attention_heads": 2, "encoder_ffn_dim": 64}}


def pipeline_resources(corpora_root: Path, tmp_path: Path, mlflow_uri: str) -> dict:
    """Resources for ``dg.materialize``: tables and models under ``tmp_path/data``."""
    data_dir = DataDirResource(path=str(tmp_path / "data"))  # one folder, nested in the others
    return {
        "io_manager": ParquetIOManager(data_dir=data_dir),
        "corpora": CorporaResource(root=str(corpora_root)),
        "data_dir": data_dir,
        "mlflow": MlflowResource(data_dir=data_dir, tracking_uri=mlflow_uri),
        "pipes_subprocess_client": dg.PipesSubprocessClient(),
    }
