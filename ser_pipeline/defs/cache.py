"""``audio_cache/<name>``: each corpus's clips decoded once to 16 kHz shards (optional, for speed)."""

import errno
import os

import dagster as dg
import pandas as pd

from ser_pipeline.audio.cache import build_corpus_cache, cache_roots
from ser_pipeline.defs.automation import DATA_CONDITION
from ser_pipeline.defs.corpora import CORPUS_NAMES, corpus_key
from ser_pipeline.defs.resources import CorporaResource, DataDirResource


class CacheConfig(dg.Config):
    dtype: str = "int16"  # int16 (half the IO) or float32 (bit-exact decode)


def cache_dir(data_dir: DataDirResource):
    """``<data>/audio_cache``: a local folder, or a prefix on object storage (each build in its
    own folder, the pointer last; read through a node-local block cache, see
    ser_pipeline/audio/cache.py)."""
    return data_dir.base() / "audio_cache"


def audio_cache(data_dir: DataDirResource, roots: dict, use: bool = True):
    """An :class:`AudioCache` over the corpora of ``roots`` that have one, when ``use``; else None.

    Clips it lacks, or holds decoded from another source (a corpus changed since), are decoded
    from the original files by the reader (``ClipDataset``)."""
    return cache_roots(cache_dir(data_dir), roots) if use else None


def cache_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["audio_cache", name])


def make_cache_asset(name: str) -> dg.AssetsDefinition:
    # An absent corpus is never materialized, so this step is skipped and an existing cache
    # stays; a table without rows yields nothing either (output_required=False).
    @dg.asset(key=cache_key(name), ins={"table": dg.AssetIn(key=corpus_key(name))}, group_name="audio_cache",
              code_version="2", kinds={"numpy"}, automation_condition=DATA_CONDITION,
              output_required=False,
              description=f"{name}: every clip decoded once, down-mixed, resampled to 16 kHz (soxr HQ), in shards.")
    def _cache(context: dg.AssetExecutionContext, config: CacheConfig, table: pd.DataFrame,
               corpora: CorporaResource, data_dir: DataDirResource):
        out = cache_dir(data_dir) / name
        if table.empty:
            context.log.info(f"audio_cache/{name}: the corpus table has no rows — not materialized, cache kept")
            return

        def progress(done: int, total: int) -> None:
            context.log.info(f"{name}: cached {done}/{total} clips")

        def waiting(holder: str) -> None:
            context.log.info(f"{name}: waiting for {holder}, which is building the same audio cache")

        try:
            idx = build_corpus_cache(table, corpora.root_for(name), out, dtype=config.dtype, progress=progress,
                                     holder=f"run {context.run_id} (pid {os.getpid()})", on_wait=waiting)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise dg.Failure(str(exc.strerror)) from exc
            raise
        failed = idx[idx.length < 0]
        for _, r in failed.head(20).iterrows():
            context.log.warning(f"{name}: not cached: {r.error}")
        yield dg.MaterializeResult(metadata={
            "path": dg.MetadataValue.path(str(out)), "clips": int((idx.length >= 0).sum()),
            "failed": len(failed), "hours": round(float(idx.length.clip(lower=0).sum()) / 16000 / 3600, 4),
            "dtype": config.dtype, "shards": int(idx.shard.max() + 1) if len(idx) and idx.shard.max() >= 0 else 0})

    return _cache


@dg.op(ins={"caches": dg.In(dg.Nothing)}, out=dg.Out(dg.Nothing))
def caches_built() -> None:
    """Waits for the cache steps of a run; a corpus's skipped step (corpus absent) does not stop it."""


@dg.graph_asset(ins={n: dg.AssetIn(key=cache_key(n), dagster_type=dg.Nothing) for n in CORPUS_NAMES},
                group_name="audio_cache", kinds={"numpy"}, code_version="1")
def audio_caches(**caches):
    """Every corpus's audio cache built in this run. Training depends on this one asset, not on
    the 21 caches: Dagster skips a step when any upstream output it reads is missing, and a
    Nothing fan-in only when all are (so an absent corpus's skipped cache does not stop training)."""
    return caches_built(caches=list(caches.values()))


CACHE_ASSETS = [*(make_cache_asset(n) for n in CORPUS_NAMES), audio_caches]
