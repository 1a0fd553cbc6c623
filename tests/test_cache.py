"""The audio cache returns what a direct decode + resample returns, and training batches match."""

import numpy as np
import pandas as pd
import pytest

from ser_pipeline.audio.cache import AudioCache, build_corpus_cache
from ser_pipeline.audio.io import load_clip
from ser_pipeline.corpora import read_corpus
from ser_pipeline.labels.harmonize import add_soft_labels, corpus_mean_intensity
from ser_pipeline.audio.clips import ClipDataset, collate_clips


@pytest.fixture(scope="module")
def tess(corpus_factory):
    root = corpus_factory("tess", per_class=1)  # 24,414 Hz and one 96 kHz file
    m, _ = read_corpus("tess", root)
    return root, add_soft_labels(m, corpus_mean_intensity(m))


@pytest.mark.parametrize("dtype,atol", [("float32", 0.0), ("int16", 0.5 / 32767 + 1e-7)])
def test_cache_equals_direct_decode(tess, tmp_path, dtype, atol):
    root, table = tess
    idx = build_corpus_cache(table, root, tmp_path / "tess", dtype=dtype, shard_samples=16000 * 3)
    assert (idx.length > 0).all() and idx.shard.max() >= 1  # several shards
    cache = AudioCache(tmp_path, ["tess"])
    for r in table.to_dict("records"):
        direct = load_clip(root / r["path"])
        np.testing.assert_allclose(cache.get(r["utterance_id"]), direct, rtol=0, atol=atol)


def test_training_batches_same_with_and_without_cache(tess, tmp_path):
    root, table = tess
    build_corpus_cache(table, root, tmp_path / "tess", dtype="float32")
    plain = ClipDataset(table, {"tess": root}, max_seconds=4.0)
    cached = ClipDataset(table, {"tess": root}, max_seconds=4.0, cache=AudioCache(tmp_path, ["tess"]))
    a = collate_clips([plain[i] for i in range(len(plain))])
    b = collate_clips([cached[i] for i in range(len(cached))])
    for wa, wb in zip(a[0], b[0], strict=True):
        np.testing.assert_array_equal(wa, wb)
    assert all((x == y).all() for x, y in zip(a[1:], b[1:], strict=True))


def test_undecodable_clip_is_listed_not_dropped(tess, tmp_path):
    root, table = tess
    bad = pd.concat([table, table.head(1).assign(utterance_id="tess/broken", path="nope.wav")])
    idx = build_corpus_cache(bad, root, tmp_path / "tess")
    row = idx.set_index("utterance_id").loc["tess/broken"]
    assert row.length == -1 and "nope.wav" in row.error
    assert "tess/broken" not in AudioCache(tmp_path, ["tess"])


def test_stale_entries_are_not_served(tess, tmp_path):
    """A row whose source changed since the cache was built (another file, other segment bounds)
    is decoded from its file, not served the old audio; an index without sources is not used."""
    root, table = tess
    build_corpus_cache(table, root, tmp_path / "tess", dtype="float32")
    cache = AudioCache(tmp_path, ["tess"])
    rows = table.reset_index(drop=True).to_dict("records")
    a, b = rows[0], rows[1]
    np.testing.assert_array_equal(cache.clip(a), load_clip(root / a["path"]))
    moved = {**a, "path": b["path"]}  # same utterance id, now pointing at b's file
    assert cache.clip(moved) is None
    cut = {**a, "start_s": 0.1, "end_s": 0.5}
    assert cache.clip(cut) is None
    ds = ClipDataset(pd.DataFrame([moved, cut]), {"tess": root}, cache=cache)
    np.testing.assert_array_equal(ds.wave(0), load_clip(root / b["path"]))
    np.testing.assert_array_equal(ds.wave(1), load_clip(root / a["path"], 0.1, 0.5))
    idx = pd.read_parquet(tmp_path / "tess" / "index.parquet")
    idx.drop(columns=["path", "start_s", "end_s"]).to_parquet(tmp_path / "tess" / "index.parquet")
    assert len(AudioCache(tmp_path, ["tess"])) == 0  # built before sources were recorded
