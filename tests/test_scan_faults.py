"""Scan-side faults (issue 16): one file is one row, one bad row is a reject and not a stopped
pipeline, and a killed scan leaves nothing behind that outlives it (no pool worker, no torn file
after the next scan)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from ser_pipeline.corpora import ScanSettings, read_corpus, read_corpus_to_parquet
from ser_pipeline.corpora.validate import validate_manifest
from ser_pipeline.emotions import CLASSES


def _tone(seconds: float, sr: int = 16000) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    return (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def test_one_file_is_one_row_however_the_manifest_spells_it(tmp_path):
    root = tmp_path / "mine"
    (root / "audio").mkdir(parents=True)
    sf.write(root / "audio" / "good.wav", _tone(1.0), 16000)
    pd.DataFrame({"path": ["audio/good.wav", "./audio/good.wav", "audio//good.wav"],
                  "label": ["happy", "sad", "angry"], "speaker": ["s1", "s2", "s3"],
                  "language": "en"}).to_csv(root / "manifest.csv", index=False)
    m, r = read_corpus("manifest", root)
    assert m.path.tolist() == ["audio/good.wav"] and m.utterance_id.tolist() == ["manifest/audio/good"]
    assert m.source_label.tolist() == ["happy"] and m.speaker.tolist() == ["manifest/s1"]  # the first listing
    assert r.reason.tolist() == ["duplicate_id", "duplicate_id"] and set(r.path) == {"audio/good.wav"}
    details = sorted(r.detail)
    assert details == ["'./audio/good.wav' is the file audio/good.wav: utterance id manifest/audio/good already taken",
                       "'audio//good.wav' is the file audio/good.wav: utterance id manifest/audio/good already taken"]


@pytest.fixture()
def corpus_with_bad_rows(tmp_path):
    """A manifest corpus of 8 good rows plus a 3-hour silent WAV, an all-zero score row and a row
    with a NaN score."""
    root = tmp_path / "corpora" / "manifest"
    (root / "audio").mkdir(parents=True)
    rows = []
    for k in range(8):
        sf.write(root / "audio" / f"u{k}.wav", _tone(1.0 + 0.1 * k), 16000)
        scores = np.zeros(8)
        scores[k] = 1.0
        rows.append({"path": f"audio/u{k}.wav", "speaker": f"s{k % 2}", **dict(zip(CLASSES, scores, strict=True))})
    # 3 h of silence at 100 Hz: the header says 10,800 s (a few MB on disk)
    sf.write(root / "audio" / "three_hours.wav", np.zeros(100 * 3 * 3600, dtype=np.int16), 100, subtype="PCM_16")
    sf.write(root / "audio" / "zero.wav", _tone(1.0), 16000)
    sf.write(root / "audio" / "nan.wav", _tone(1.0), 16000)
    rows.append({"path": "audio/three_hours.wav", "speaker": "s0", **{c: (1.0 if c == "neutral" else 0.0) for c in CLASSES}})
    rows.append({"path": "audio/zero.wav", "speaker": "s1", **{c: 0.0 for c in CLASSES}})
    rows.append({"path": "audio/nan.wav", "speaker": "s1", **{c: (float("nan") if c == "fear" else 0.5 * (c == "anger"))
                                                            for c in CLASSES}})
    pd.DataFrame(rows).assign(language="en").to_csv(root / "manifest.csv", index=False)
    return root


def test_rows_the_tables_cannot_hold_are_rejects_with_their_reasons(corpus_with_bad_rows):
    m, r = read_corpus("manifest", corpus_with_bad_rows)
    assert len(m) == 8 and not validate_manifest(m)
    reasons = dict(zip(r.path, r.reason, strict=True))
    assert reasons == {"audio/three_hours.wav": "duration_out_of_range", "audio/zero.wav": "no_score_mass",
                       "audio/nan.wav": "nan_scores"}
    detail = dict(zip(r.path, r.detail, strict=True))
    assert "10800.0 s is longer than the 3600 s" in detail["audio/three_hours.wav"]
    assert "score(s) fear" in detail["audio/nan.wav"]


def test_bad_rows_do_not_stop_the_label_assets(corpus_with_bad_rows, tmp_path):
    """The pipeline's corpus and label assets materialize, every blocking check passes, and the
    rejects table holds the three rows with their reasons."""
    from ser_pipeline.defs.checks import CHECKS
    from ser_pipeline.defs.corpora import CORPUS_ASSETS
    from ser_pipeline.defs.io import ParquetIOManager
    from ser_pipeline.defs.labels import label_intensity, smoothed_labels, splits
    from ser_pipeline.defs.resources import CorporaResource, DataDirResource

    assets = [*CORPUS_ASSETS, label_intensity, smoothed_labels, splits]
    keys = {k for a in assets for k in a.keys}
    checks = [c for c in CHECKS if all(ck.asset_key in keys for ck in c.check_keys)]
    data_dir = DataDirResource(path=str(tmp_path / "data"))
    resources = {"corpora": CorporaResource(root=str(corpus_with_bad_rows.parent)), "data_dir": data_dir,
                 "io_manager": ParquetIOManager(data_dir=data_dir)}
    with dg.instance_for_test() as instance:
        result = dg.materialize([*assets, *checks], resources=resources, instance=instance)
    assert result.success
    failed = [(e.asset_key.to_user_string(), e.check_name) for e in result.get_asset_check_evaluations()
              if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR]
    assert not failed
    table = pd.read_parquet(tmp_path / "data" / "assets" / "splits.parquet")
    assert len(table) == 8 and set(table.split) <= {"train", "validation"}
    rejects = pd.read_parquet(tmp_path / "data" / "rejects" / "manifest.parquet")
    assert sorted(rejects.reason) == ["duration_out_of_range", "nan_scores", "no_score_mass"]


def test_a_failing_blocking_check_says_which_rows_in_its_description_and_the_log(corpus_with_bad_rows, tmp_path):
    """The guard stays: a table that slipped past the reader fails ``table_valid``, and the check's
    description and the run's log name the offending utterance ids (20 shown, the rest counted)."""
    from ser_pipeline.defs.checks import make_corpus_checks
    from ser_pipeline.defs.corpora import corpus_key
    from ser_pipeline.defs.io import ParquetIOManager
    from ser_pipeline.defs.resources import DataDirResource

    m, _ = read_corpus("manifest", corpus_with_bad_rows)
    bad = pd.concat([m] * 4, ignore_index=True)
    bad["utterance_id"] = [f"manifest/x{i:02d}" for i in range(len(bad))]
    bad.loc[3:, "duration_s"] = 5000.0  # 29 rows too long

    @dg.asset(key=corpus_key("manifest"))
    def table() -> pd.DataFrame:
        return bad

    data_dir = DataDirResource(path=str(tmp_path / "data"))
    with dg.instance_for_test() as instance:
        result = dg.materialize([table, *make_corpus_checks("manifest")], instance=instance, raise_on_error=False,
                                resources={"io_manager": ParquetIOManager(data_dir=data_dir), "data_dir": data_dir})
        logs = [e.message for e in instance.all_logs(result.run_id) if e.message]
    (ev,) = [e for e in result.get_asset_check_evaluations() if e.check_name == "table_valid"]
    assert not ev.passed
    text = ev.description
    assert "duration_s outside (0, 3600.0] s in manifest/x03, manifest/x04" in text
    assert "manifest/x22" in text and "manifest/x23" not in text and "(+9)" in text
    assert any("table_valid" in line and "manifest/x03" in line for line in logs)


_KILLED_SCAN = """
import sys, time
from pathlib import Path
import ser_pipeline.corpora.probe as probe
from ser_pipeline.corpora import ScanSettings, read_corpus_to_parquet

probe.PROGRESS_EVERY_S = 0.0  # report after the first chunk comes back

def hang(done, total):  # the pool is running and the staging file is open: stop here for good
    Path(sys.argv[3]).write_text("scanning")
    time.sleep(3600)

read_corpus_to_parquet("manifest", sys.argv[1], sys.argv[2], scan=ScanSettings(workers=2, chunk_files=64, progress=hang))
"""


def _children(pid: int) -> list[int]:
    """Live (non-zombie) child processes of ``pid``, from /proc."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(stat.parent.name))
    return out


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process state from /proc")
def test_scan_killed_with_sigkill_leaves_no_worker_and_its_torn_file_is_removed_next_time(tmp_path):
    root = tmp_path / "mine"
    (root / "a").mkdir(parents=True)
    for k in range(200):  # >= 64 files: the scan starts its pool
        sf.write(root / "a" / f"u{k:03d}.wav", _tone(0.1), 16000)
    pd.DataFrame({"path": [f"a/u{k:03d}.wav" for k in range(200)], "label": "happy", "speaker": "s",
                  "language": "en"}).to_csv(root / "manifest.csv", index=False)
    out, marker = tmp_path / "tmp" / "corpora-manifest-run1.parquet", tmp_path / "scanning"
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_SCAN, str(root), str(out), str(marker)])
    try:
        deadline = time.monotonic() + 300
        while not marker.exists():
            assert proc.poll() is None, f"the scan ended early with {proc.returncode}"
            assert time.monotonic() < deadline, "the scan never reported progress"
            time.sleep(0.2)
        workers = _children(proc.pid)
        assert workers, "the scan has no pool worker"
    finally:
        proc.kill()  # SIGKILL: no cleanup runs in the scan
        proc.wait()
    try:
        deadline = time.monotonic() + 120
        while not all(_gone(w) for w in workers):
            assert time.monotonic() < deadline, f"pool workers {workers} outlived their scan"
            time.sleep(0.2)
    finally:  # a failing run must not leave them behind either
        for w in workers:
            if not _gone(w):
                os.kill(w, signal.SIGKILL)
    torn = [p.name for p in out.parent.iterdir()]
    assert len(torn) == 1 and torn[0].startswith(f".{out.name}.pid{proc.pid}.") and torn[0].endswith(".tmp")
    live = out.parent / f".{out.name}.pid{os.getpid()}.x.tmp"  # a scan still writing: left alone
    live.touch()
    read_corpus_to_parquet("manifest", root, out, scan=ScanSettings(workers=1))
    assert sorted(p.name for p in out.parent.iterdir()) == sorted([out.name, live.name])
    assert len(pd.read_parquet(out)) == 200
