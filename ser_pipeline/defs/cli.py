"""The installed ``ser`` command: the core's commands (:mod:`ser_pipeline.cli`) plus what needs the
orchestration shell — MLflow model references (``models:/NAME/VERSION``, ``models:/NAME@ALIAS``,
``runs:/ID/pyfunc_model``) resolved against the same tracking store the pipeline logs to.

The core never reaches up here; this module hands it the resolver.
"""

import sys
from pathlib import Path

from ser_pipeline.cli import main as core_main


def resolve_registry_model(ref: str) -> Path:
    """A local export folder for an MLflow model reference, from the pipeline's tracking store."""
    from ser_pipeline.defs.mlflow_model import download_export
    from ser_pipeline.defs.resources import DataDirResource, MlflowResource

    # the same resource (and so the same default store) the pipeline logs to
    return download_export(ref, MlflowResource(data_dir=DataDirResource()).uri())


def main(argv: list[str] | None = None) -> int:
    return core_main(argv, resolve_reference=resolve_registry_model)


if __name__ == "__main__":
    sys.exit(main())
