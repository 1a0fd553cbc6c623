"""The Dagster code location: ``dagster job execute -m ser_pipeline.definitions -j full_pipeline``.

Only gathers what ``defs/`` declares.
"""


import dagster as dg

from ser_pipeline.defs.corpora import CORPUS_ASSETS
from ser_pipeline.defs.evaluation import EVALUATION_ASSETS
from ser_pipeline.defs.executors import executor_from_env
from ser_pipeline.defs.io import ParquetIOManager
from ser_pipeline.defs.jobs import JOBS
from ser_pipeline.defs.labels import label_intensity, smoothed_labels, splits
from ser_pipeline.defs.resources import CorporaResource, DataDirResource, MlflowResource
from ser_pipeline.defs.training import emotion_model

RESOURCES = {
    "io_manager": ParquetIOManager(),
    "corpora": CorporaResource(),
    "data_dir": DataDirResource(),
    "mlflow": MlflowResource(),
}

ASSETS = [*CORPUS_ASSETS, label_intensity, smoothed_labels, splits, emotion_model, *EVALUATION_ASSETS]

defs = dg.Definitions(
    assets=ASSETS,
    jobs=JOBS,
    resources=RESOURCES,
    executor=executor_from_env(),
)
