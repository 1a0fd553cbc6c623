"""How the Dagster UI shows our assets: owners, freshness, column schemas, images, MLflow links.

One place for the metadata *types* the catalog renders specially:

* ``dagster/column_schema`` as a :class:`dagster.TableSchema` (a "Columns" tab with types and
  descriptions), derived from the stored Parquet schema;
* images as Markdown with an embedded base64 PNG (the UI renders ``data:`` URIs; a file path
  would only be text);
* an MLflow run as a :class:`dagster.MetadataValue.url` to its page when the tracking store is an
  http(s) server, plain text otherwise (a sqlite store has no page to link to).
"""

import base64
from pathlib import Path

import dagster as dg
import pyarrow as pa

from ser_pipeline.emotions import CLASSES, SOFT_COLUMNS

#: who answers for the pipeline's assets (Dagster owner format: an e-mail or ``team:<name>``)
OWNERS = ["team:ser"]



def with_owners(spec: dg.AssetSpec) -> dg.AssetSpec:
    """``spec`` owned by :data:`OWNERS` (for ``dg.map_asset_specs``)."""
    return spec.replace_attributes(owners=OWNERS)

#: DESIGN.md "Tables": what each known column means (units in the text)
COLUMN_DESCRIPTIONS: dict[str, str] = {
    "utterance_id": "globally unique: <corpus>/<relative path without extension>",
    "corpus": "corpus name (registry key)",
    "path": "audio file, relative to the corpus root (POSIX)",
    "speaker": "corpus-qualified speaker id",
    "gender": "F / M / null",
    "language": "ISO 639-1 code",
    "duration_s": "utterance duration in seconds",
    "sample_rate": "sample rate in Hz, probed from the header",
    "channels": "channels as stored (readers down-mix)",
    "source_label": "the corpus's own label text, verbatim",
    "official_split": "the corpus's own split (e.g. IEMOCAP session)",
    "n_raters": "raters behind the vote, where votes exist",
    "start_s": "segment start inside path, seconds (null: whole file)",
    "end_s": "segment end inside path, seconds (null: whole file)",
    "intensity": "E_i, the utterance's emotion intensity (paper §2.2)",
    "hard_label": "argmax class of the smoothed soft label",
    "domain": "domain key (corpus/language) for the adversarial head",
    "split": "train / validation / test / zero_shot / finetune",
    "n": "rows of the corpus",
    "mean_intensity": "the corpus's mean intensity Ē (paper §2.2)",
    "reason": "why the file was rejected (enumerable)",
    "detail": "free text for a person",
    **{c: f"raw {c} score in [0, 1], before normalisation" for c in CLASSES},
    **{s: f"smoothed, normalised {c} probability (soft label; the row sums to 1)"
       for s, c in zip(SOFT_COLUMNS, CLASSES, strict=True)},
}


def column_schema(schema: pa.Schema) -> dg.TableSchema:
    """A :class:`dagster.TableSchema` of a Parquet/Arrow schema: name, Arrow type, description
    (from :data:`COLUMN_DESCRIPTIONS`; corpus-specific extras get none)."""
    return dg.TableSchema(columns=[
        dg.TableColumn(f.name, str(f.type), description=COLUMN_DESCRIPTIONS.get(f.name)) for f in schema])


def image_markdown(png: Path, alt: str) -> dg.MetadataValue:
    """Markdown that shows the PNG ``png`` inline in the Dagster UI (a base64 ``data:`` URI)."""
    data = base64.b64encode(Path(png).read_bytes()).decode("ascii")
    return dg.MetadataValue.md(f"![{alt}](data:image/png;base64,{data})")


def mlflow_run_link(mlflow, run_id: str) -> dg.MetadataValue:
    """The MLflow run ``run_id`` of ``mlflow`` (an :class:`MlflowResource`) as a link to its page
    when the tracking store is an http(s) server, else its id as text."""
    uri = mlflow.uri()
    if uri.startswith(("http://", "https://")):
        return dg.MetadataValue.url(f"{uri.rstrip('/')}/#/experiments/{mlflow.experiment_id()}/runs/{run_id}")
    return dg.MetadataValue.text(run_id)


def report_images(paths: dict[str, Path]) -> dict[str, dg.MetadataValue]:
    """The report's heatmap and per-set confusion PNGs (``write_report``'s paths) as inline images."""
    images = {"heatmap": image_markdown(paths["heatmap"], "Table 2 heatmap")}
    images.update({f"confusion_{k.split('/', 1)[1]}": image_markdown(p, f"confusion matrix, {k.split('/', 1)[1]}")
                   for k, p in paths.items() if k.startswith("confusion/")})
    return images
