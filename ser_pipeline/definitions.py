"""The Dagster code location: ``dagster job execute -m ser_pipeline.definitions -j full_pipeline``.

Only gathers what ``defs/`` declares.
"""


import warnings

import dagster as dg

# observable_source_asset and Output(data_version=) are marked beta; we use them deliberately.
warnings.filterwarnings("ignore", category=dg.BetaWarning)

from ser_pipeline.defs.automation import (
    make_automation_sensor, make_raw_corpus_asset, make_training_schedule, make_training_sensor,
)
from ser_pipeline.defs.cache import CACHE_ASSETS
from ser_pipeline.defs.checks import CHECKS
from ser_pipeline.defs.corpora import CORPUS_ASSETS, CORPUS_NAMES
from ser_pipeline.defs.evaluation import EVALUATION_ASSETS, evaluation_report, temporal_evaluation
from ser_pipeline.defs.experiments import EXPERIMENT_ASSETS, EXPERIMENT_JOBS
from ser_pipeline.defs.finetune import HUME_ASSETS
from ser_pipeline.defs.executors import executor_from_env
from ser_pipeline.defs.io import ParquetIOManager
from ser_pipeline.defs.jobs import JOBS, train_and_evaluate
from ser_pipeline.defs.labels import label_intensity, smoothed_labels, splits
from ser_pipeline.defs.resources import CorporaResource, DataDirResource, MlflowResource
from ser_pipeline.defs.training import emotion_model
from ser_pipeline.defs.ui_metadata import with_owners

# One data folder, configured once (run config resources.data_dir.config.path, else
# $SER_DATA_DIR): the IO manager and MLflow take this very resource nested, and a resource
# configured at launch passes its run config on to the resources that nest it.
DATA_DIR = DataDirResource.configure_at_launch()

RESOURCES = {
    "io_manager": ParquetIOManager(data_dir=DATA_DIR),
    "corpora": CorporaResource(),
    "data_dir": DATA_DIR,
    "mlflow": MlflowResource(data_dir=DATA_DIR),
    "pipes_subprocess_client": dg.PipesSubprocessClient(),
}

RAW_ASSETS = [make_raw_corpus_asset(n) for n in CORPUS_NAMES]
# every asset gets the project's owners here, in one place (source assets cannot take them)
ASSETS = [*RAW_ASSETS, *dg.map_asset_specs(with_owners, [
    *CORPUS_ASSETS, label_intensity, smoothed_labels, splits, *CACHE_ASSETS, emotion_model,
    *EVALUATION_ASSETS, evaluation_report, temporal_evaluation, *HUME_ASSETS])]
# the studies beyond the paper (issue 19) are partitioned: kept out of ASSETS (and full_pipeline)
STUDY_ASSETS = dg.map_asset_specs(with_owners, EXPERIMENT_ASSETS)

defs = dg.Definitions(
    assets=[*ASSETS, *STUDY_ASSETS],
    asset_checks=CHECKS,
    jobs=[*JOBS, *EXPERIMENT_JOBS],
    schedules=[make_training_schedule(train_and_evaluate)],
    sensors=[make_training_sensor(train_and_evaluate), make_automation_sensor()],
    resources=RESOURCES,
    executor=executor_from_env(),
)
