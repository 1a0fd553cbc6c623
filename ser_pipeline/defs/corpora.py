"""One asset per corpus (key ``corpora/<name>``): the Parquet soft-label table + a rejects table."""


import json
import sys

import dagster as dg

from ser_pipeline.corpora import available, get_spec, read_corpus_to_parquet
from ser_pipeline.corpora.base import CorpusNotFoundError, ScanSettings
from ser_pipeline.defs.automation import DATA_CONDITION, raw_key
from ser_pipeline.defs.io import LOADS_EMPTY_WHEN_ABSENT, StoredParquet, write_parquet
from ser_pipeline.defs.resources import CorporaResource, DataDirResource
from ser_pipeline.defs.summaries import stats_summary
from ser_pipeline.emotions import CLASSES

GROUP = "corpora"


class CorpusReadConfig(dg.Config):
    """Reader options passed to ``read(root, **options)`` (e.g. EMO-DB ``boredom: drop``)."""

    options: dict[str, str] = {}
    workers: int = 0  # header-probe processes; 0 = settings.scan_workers() ($SER_SCAN_WORKERS or the CPU count)
    # paths / ids a scan keeps in memory before the rest go to disk; 0 = settings.scan_memory_keys()
    # ($SER_SCAN_MEMORY_KEYS or 131,072)
    memory_keys: int = 0

    def scan(self, progress) -> ScanSettings:
        """The scan settings of this run: the fields set here, the rest from ser_pipeline.settings."""
        given = {k: v for k, v in (("workers", self.workers), ("memory_keys", self.memory_keys)) if v}
        return ScanSettings(progress=progress, tqdm=sys.stderr.isatty(), **given)


def corpus_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["corpora", name])


#: the in-step check that marks an absent corpus in the catalog (a WARN, not a green 0-row table)
PRESENT_CHECK = "corpus_present"


def absent_check_result(name: str, root) -> dg.AssetCheckResult:
    """The failing ``corpus_present`` result of corpus ``name`` absent under ``root``."""
    return dg.AssetCheckResult(
        check_name=PRESENT_CHECK, asset_key=corpus_key(name), passed=False, severity=dg.AssetCheckSeverity.WARN,
        description=f"absent under {root}: set SER_CORPORA_ROOT or corpora.overrides.{name}",
        metadata={"root": str(root)})


def _label_map_hash(name: str) -> str:
    import hashlib

    spec = get_spec(name)
    blob = json.dumps({k: dict(v) for k, v in spec.label_map.items()}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def make_corpus_asset(name: str) -> dg.AssetsDefinition:
    """The asset for corpus ``name``; its code_version is the reader's plus its label map's hash,
    so fixing a label map re-materializes exactly that corpus (and what depends on it)."""
    spec = get_spec(name)

    @dg.asset(
        key=corpus_key(name),
        group_name=GROUP,
        code_version=f"{spec.code_version}-{_label_map_hash(name)}",
        kinds={"parquet"},
        deps=[raw_key(name)],
        automation_condition=DATA_CONDITION,
        description=f"{spec.title} ({spec.role}; {', '.join(spec.languages) or 'any language'}): "
                    f"one row per utterance with the 8 raw emotion scores. Soft labels: {spec.soft_label_source}.",
        tags={"role": spec.role},
        metadata={LOADS_EMPTY_WHEN_ABSENT: True},
        # An absent corpus yields no output: no materialization, so a stored table is never
        # replaced by an empty one (a wrong SER_CORPORA_ROOT must not wipe good tables).
        output_required=False,
        check_specs=[dg.AssetCheckSpec(PRESENT_CHECK, asset=corpus_key(name),
                                       description="warns when the corpus folder is absent under the corpora root")],
    )
    def _corpus(context: dg.AssetExecutionContext, config: CorpusReadConfig, corpora: CorporaResource,
                data_dir: DataDirResource):
        root = corpora.root_for(name)

        def progress(done: int, total: int) -> None:
            context.log.info(f"{name}: probed {done}/{total} audio files")

        try:
            # rows stream into a local file (next to the tables, or in the scratch folder for a data
            # folder on object storage); the IO manager moves or uploads it into place
            staged = data_dir.staging_dir() / f"corpora-{name}-{context.run_id}.parquet"
            stats, rejects = read_corpus_to_parquet(name, root, staged, scan=config.scan(progress), **config.options)
        except CorpusNotFoundError as exc:
            if not corpora.present(available()):
                # Not one corpus anywhere: a wrong root, not a partial collection. Fail now, with
                # the fix, instead of a green run that did nothing.
                raise dg.Failure(f"no corpus found under {corpora.base()} (nor in corpora.overrides): "
                                 "set SER_CORPORA_ROOT or the corpora resource's root to the folder that "
                                 "holds the corpus folders (see `ser corpora --root DIR`)") from exc
            # Not a warning per corpus: the label assets log one summary line of the absent ones.
            context.log.info(f"{exc} — not materialized; the stored table (if any) is kept")
            yield absent_check_result(name, root)
            return
        rejects_path = data_dir.base() / "rejects" / f"{name}.parquet"
        write_parquet(rejects, rejects_path)
        by_reason = rejects["reason"].value_counts().to_dict() if len(rejects) else {}
        if len(rejects):
            context.log.warning(f"{name}: {len(rejects)} file(s) rejected: {by_reason}")
        yield dg.Output(StoredParquet(staged, stats.rows), metadata={
            "status": "read",
            "root": str(root),
            **stats_summary(stats),
            "rejects": len(rejects),
            "rejects_by_reason": dg.MetadataValue.json({str(k): int(v) for k, v in by_reason.items()}),
            "rejects_path": dg.MetadataValue.path(str(rejects_path)),
        })
        yield dg.AssetCheckResult(check_name=PRESENT_CHECK, passed=True, metadata={"root": str(root)})

    return _corpus


CORPUS_NAMES: list[str] = available()
CORPUS_ASSETS: list[dg.AssetsDefinition] = [make_corpus_asset(n) for n in CORPUS_NAMES]
#: corpora that feed the label assets (all but the fine-tune target)
LABEL_CORPORA: list[str] = [n for n in CORPUS_NAMES if get_spec(n).role != "finetune"]
__all__ = ["CLASSES", "CORPUS_ASSETS", "CORPUS_NAMES", "LABEL_CORPORA", "corpus_key"]
