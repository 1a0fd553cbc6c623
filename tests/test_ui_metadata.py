"""What the Dagster UI shows (issue 15.6, catalog half): column schemas, owners, inline images,
MLflow run links."""

import sys
from pathlib import Path

import dagster as dg
import numpy as np
import pyarrow as pa

from ser_pipeline.defs.corpora import CORPUS_ASSETS
from ser_pipeline.defs.labels import label_intensity, smoothed_labels, splits
from ser_pipeline.defs.resources import DataDirResource, MlflowResource
from ser_pipeline.defs.ui_metadata import column_schema, image_markdown, mlflow_run_link
from ser_pipeline.synth import synth_corpus

sys.path.insert(0, str(Path(__file__).parent))
from pipeline_helpers import pipeline_resources  # noqa: E402


def test_column_schema_has_types_and_the_design_descriptions():
    schema = column_schema(pa.schema([("duration_s", pa.float64()), ("soft_anger", pa.float32()),
                                      ("studio_take", pa.string())]))
    cols = {c.name: c for c in schema.columns}
    assert cols["duration_s"].type == "double" and "seconds" in cols["duration_s"].description
    assert cols["soft_anger"].type == "float" and "sums to 1" in cols["soft_anger"].description
    assert cols["studio_take"].description is None  # a corpus extra: typed, not described


def test_an_image_is_inline_markdown(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.imsave(tmp_path / "x.png", np.zeros((4, 4)))
    value = image_markdown(tmp_path / "x.png", "x")
    assert isinstance(value, dg.MarkdownMetadataValue)
    assert value.md_str.startswith("![x](data:image/png;base64,iVBOR")  # the PNG signature


class _ServerTracking:
    """An MlflowResource's two answers for a tracking server (no server runs in the tests)."""

    def uri(self) -> str:
        return "http://mlflow.example:5000/"

    def experiment_id(self) -> str:
        return "7"


def test_mlflow_run_is_a_link_on_a_server_and_text_on_a_local_store(tmp_path):
    link = mlflow_run_link(_ServerTracking(), "abc")
    assert isinstance(link, dg.UrlMetadataValue)
    assert link.url == "http://mlflow.example:5000/#/experiments/7/runs/abc"
    local = MlflowResource(data_dir=DataDirResource(path=str(tmp_path)), tracking_uri=f"sqlite:///{tmp_path}/m.db")
    text = mlflow_run_link(local, "abc")
    assert isinstance(text, dg.TextMetadataValue) and text.value == "abc"


def test_tables_carry_a_column_schema_and_every_asset_an_owner(tmp_path, mlflow_uri):
    from ser_pipeline.definitions import defs

    synth_corpus("ravdess", tmp_path / "corpora" / "ravdess", speakers=2, per_class=1)
    assets = [*(a for a in CORPUS_ASSETS if a.key.path[-1] == "ravdess"), label_intensity, smoothed_labels, splits]
    with dg.instance_for_test() as instance:
        result = dg.materialize(assets, instance=instance, resources=pipeline_resources(
            tmp_path / "corpora", tmp_path, mlflow_uri))
    mats = {e.asset_key.to_user_string(): e.materialization.metadata for e in result.get_asset_materialization_events()}
    for key, column in (("corpora/ravdess", "duration_s"), ("smoothed_labels", "soft_neutral"),
                        ("splits", "split"), ("label_intensity", "mean_intensity")):
        schema = mats[key]["dagster/column_schema"]
        assert isinstance(schema, dg.TableSchemaMetadataValue), key
        assert column in {c.name for c in schema.schema.columns}, key
        assert all(c.description for c in schema.schema.columns if c.name == column), key
    graph = defs.resolve_asset_graph()
    unowned = [k.to_user_string() for k in graph.materializable_asset_keys if not graph.get(k).owners]
    assert not unowned
