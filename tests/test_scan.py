"""Corpus scans: probing pipelined across processes gives the sequential scan's tables, exactly."""

import gc

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from ser_pipeline.corpora import get_spec, read_corpus
from ser_pipeline.corpora.base import ScanSettings, manifest_schema
from ser_pipeline.corpora.probe import HeaderProber
from ser_pipeline.synth import synth_corpus


@pytest.fixture(scope="module")
def many_files(tmp_path_factory):
    """A user manifest of 300 rows over 290 files with every kind of reject mixed in."""
    root = tmp_path_factory.mktemp("scan") / "mine"
    (root / "a").mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows = []
    for k in range(290):
        sr = (16000, 22050, 44100)[k % 3]
        sf.write(root / "a" / f"u{k:03d}.wav", (0.1 * rng.standard_normal(sr // 10 * (1 + k % 4))).astype(np.float32),
                 sr, subtype="PCM_16")
        rows.append((f"a/u{k:03d}.wav", ("happy", "sad", "angry", "neutral")[k % 4]))
    (root / "a" / "u007.wav").write_text("not audio")  # unreadable
    rows += [("a/u010.wav", "sad"),  # duplicate id: the first row wins
             ("a/missing.wav", "happy"),  # no such file
             ("a/u011.wav", "bogus"),  # unknown label (before probing)
             ("../outside.wav", "happy"),  # escapes the root
             ("a/u012.wav", "happy"), ("a/u012.wav", "angry")]  # second duplicate
    rows += [(f"a/u{k:03d}.wav", "happy") for k in range(280, 284)]  # more duplicates, at the end
    pd.DataFrame({"path": [p for p, _ in rows], "label": [lab for _, lab in rows], "speaker": "s",
                  "language": "en"}).to_csv(root / "manifest.csv", index=False)
    return root


def test_pipelined_parallel_scan_equals_sequential(many_files):
    m1, r1 = read_corpus("manifest", many_files, scan=ScanSettings(workers=1))
    assert len(m1) == 289 and r1.reason.value_counts().to_dict() == {
        "duplicate_id": 7, "unreadable_audio": 1, "audio_missing": 1, "unknown_label": 1, "outside_root": 1}
    manifest_order = list(dict.fromkeys(pd.read_csv(many_files / "manifest.csv").path))
    assert m1.path.tolist() == [p for p in manifest_order if p in set(m1.path)]  # the reader's order
    assert m1.utterance_id.is_unique
    for workers, chunk in ((2, 16), (3, 7), (2, 4096)):  # many pipelined chunks, odd sizes, one chunk
        reports = []
        scan = ScanSettings(workers=workers, chunk_files=chunk, progress=lambda d, t: reports.append((d, t)))
        m, r = read_corpus("manifest", many_files, scan=scan)
        pd.testing.assert_frame_equal(m, m1)
        pd.testing.assert_frame_equal(r, r1)
        done, total = reports[-1]
        # every file probed (missing.wav too); a path listed again after its row was built is
        # probed again (its result is not kept), here u010, u012 (twice) and u280-u283 at most
        assert done == total and 290 + 1 <= total <= 290 + 1 + 7


def test_duplicate_keeps_the_first_row_added(many_files):
    m, r = read_corpus("manifest", many_files)
    row = m.set_index("utterance_id").loc["manifest/a/u012"]
    assert row.source_label == "happy"  # u012's own row, not the two later ones
    assert m.set_index("utterance_id").loc["manifest/a/u281"].source_label == "sad"  # not the later "happy"


def test_prober_returns_every_request_once(many_files):
    paths = sorted(str(p) for p in (many_files / "a").glob("*.wav"))
    prober = HeaderProber(None, ScanSettings(workers=2, chunk_files=8))
    for p in paths:
        prober.request(p, p)
    results = prober.wait()
    assert sorted(results) == paths
    assert results[str(many_files / "a" / "u007.wav")].reason == "unreadable_audio"
    assert results[paths[0]].sample_rate == 16000


@pytest.mark.parametrize("name", ["iemocap", "msp_podcast", "manifest"])
def test_streamed_manifest_round_trips_through_parquet_as_the_dataframe(name, tmp_path):
    """The asset streams the rows to Parquet; loading it gives read_corpus's DataFrame, dtypes
    (extra columns, nullable integers) included."""
    import pyarrow.parquet as pq

    from ser_pipeline.corpora import read_corpus_to_parquet

    root = tmp_path / name
    synth_corpus(name, root, speakers=2, per_class=1)
    _, rejects = read_corpus_to_parquet(name, root, tmp_path / "m.parquet")
    df, rejects_df = read_corpus(name, root)
    schema = pq.read_schema(tmp_path / "m.parquet")
    assert schema.equals(manifest_schema(get_spec(name).extra_columns), check_metadata=False)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "m.parquet"), df)
    pd.testing.assert_frame_equal(rejects, rejects_df)


def test_gc_is_back_on_after_a_scan_that_fails(tmp_path):
    (tmp_path / "manifest.csv").write_text("path,speaker,language\n")  # no label column: ValueError
    assert gc.isenabled()
    with pytest.raises(ValueError, match="label"):
        read_corpus("manifest", tmp_path)
    assert gc.isenabled()


@pytest.mark.parametrize("workers", [1, 2])
def test_scan_streamed_to_parquet_equals_the_dataframe(many_files, tmp_path, workers):
    """Rows streamed row group by row group load back as read_corpus's DataFrame, with its totals."""
    import pyarrow.parquet as pq

    from ser_pipeline.corpora import read_corpus_to_parquet
    from ser_pipeline.corpora.base import ROW_GROUP_ROWS

    df, rejects_df = read_corpus("manifest", many_files)
    stats, rejects = read_corpus_to_parquet("manifest", many_files, tmp_path / "out" / "m.parquet",
                                            scan=ScanSettings(workers=workers, chunk_files=16))
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "out" / "m.parquet"), df)
    pd.testing.assert_frame_equal(rejects, rejects_df)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["m.parquet"]  # no temporary left
    assert pq.ParquetFile(tmp_path / "out" / "m.parquet").metadata.num_row_groups == -(-len(df) // ROW_GROUP_ROWS)
    assert stats.rows == len(df) and stats.seconds == pytest.approx(df.duration_s.sum())
    assert stats.speakers == set(df.speaker) and stats.sample_rates == set(df.sample_rate)
    hard = df[["happiness", "sadness", "anger", "neutral"]].to_numpy().argmax(1)
    assert stats.class_histogram()["sadness"] == int((hard == 1).sum())


def test_failed_streamed_scan_leaves_no_file(tmp_path):
    from ser_pipeline.corpora import read_corpus_to_parquet

    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "manifest.csv").write_text("path,speaker,language\n")
    with pytest.raises(ValueError):
        read_corpus_to_parquet("manifest", tmp_path / "c", tmp_path / "out" / "m.parquet")
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize("workers", [1, 2])
def test_scan_with_its_bookkeeping_on_disk_gives_the_same_tables(many_files, workers):
    """Claimed paths and taken ids past ``memory_keys`` live on disk (KeySet): duplicates and
    unlisted files are still found, so the tables are exactly those of an all-in-memory scan."""
    extra = many_files.parent / "unlisted"  # an IEMOCAP tree with audio no label file lists
    synth_corpus("iemocap", extra, speakers=2, per_class=1)
    orphan = next(extra.glob("Session1/sentences/wav/*/*.wav"))
    (orphan.parent / ("Zorphan" + orphan.name)).write_bytes(orphan.read_bytes())
    expected = {name: read_corpus(name, root) for name, root in (("manifest", many_files), ("iemocap", extra))}
    assert "label_missing" in set(expected["iemocap"].rejects.reason)
    for name, root in (("manifest", many_files), ("iemocap", extra)):
        m, r = read_corpus(name, root, scan=ScanSettings(workers=workers, chunk_files=16, memory_keys=5))
        pd.testing.assert_frame_equal(m, expected[name].manifest)
        pd.testing.assert_frame_equal(r, expected[name].rejects)


@pytest.mark.parametrize("form", ["csv", "parquet"])
def test_manifest_read_in_chunks_gives_the_same_tables(many_files, tmp_path, monkeypatch, form):
    """The manifest file is streamed ``CHUNK_ROWS`` rows at a time; chunk edges change nothing
    (a duplicate whose first row sits in an earlier chunk is still a duplicate)."""
    import shutil

    from ser_pipeline.corpora import manifest as manifest_reader

    root = tmp_path / "c"
    shutil.copytree(many_files, root)
    if form == "parquet":  # the same rows as a typed table; the CSV must not be read instead
        pd.read_csv(root / "manifest.csv", dtype=str).to_parquet(root / "manifest.parquet")
        (root / "manifest.csv").unlink()
    whole = read_corpus("manifest", root)
    assert len(whole.manifest) == 289
    monkeypatch.setattr(manifest_reader, "CHUNK_ROWS", 7)
    columns, chunks = manifest_reader.manifest_chunks(root, rows=manifest_reader.CHUNK_ROWS)
    assert columns == ["path", "label", "speaker", "language"] and len(next(chunks)) == 7
    chunked = read_corpus("manifest", root)
    pd.testing.assert_frame_equal(chunked.manifest, whole.manifest)
    pd.testing.assert_frame_equal(chunked.rejects, whole.rejects)


@pytest.mark.parametrize("text,problem", [("", "not a readable CSV"),
                                          ("path,label,speaker,language\na.wav,happy,s,en\nb.wav,sad,s,en,extra\n",
                                           "malformed CSV.*line 3")])
def test_unreadable_manifest_csv_names_the_file(tmp_path, text, problem):
    (tmp_path / "manifest.csv").write_text(text)
    with pytest.raises(ValueError, match=problem) as err:
        read_corpus("manifest", tmp_path)
    assert str(tmp_path / "manifest.csv") in str(err.value)
