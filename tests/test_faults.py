"""Reliability: bad audio, bad manifests, idempotent tables, atomic writes, MLflow down, bad config."""

import http.server
import logging
import os
import socket
import threading
import wave
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from ser_pipeline.audio.io import load_clip
from ser_pipeline.corpora import read_corpus
from ser_pipeline.defs.automation import make_raw_corpus_asset
from ser_pipeline.defs.corpora import make_corpus_asset
from ser_pipeline.defs.io import ParquetIOManager, write_parquet
from ser_pipeline.defs.resources import CorporaResource, DataDirResource, MlflowResource
from ser_pipeline.synth import synth_corpus
from ser_pipeline.training.config import TrainConfig


def tone(sr, seconds, channels=1):
    t = np.arange(int(sr * seconds)) / sr
    x = 0.3 * np.sin(2 * np.pi * 220 * t).astype(np.float32)
    return x if channels == 1 else np.stack([x] * channels, axis=1)


@pytest.fixture()
def bad_audio_corpus(tmp_path):
    """A user manifest corpus holding every kind of bad or odd audio file."""
    root = tmp_path / "mine"
    a = root / "audio"
    a.mkdir(parents=True)
    good = {
        "stereo.wav": (tone(16000, 1.0, 2), 16000, "PCM_16"),
        "pcm8.wav": (tone(16000, 1.0), 16000, "PCM_U8"),
        "pcm24.wav": (tone(16000, 1.0), 16000, "PCM_24"),
        "float.wav": (tone(16000, 1.0), 16000, "FLOAT"),
        "sr8k.wav": (tone(8000, 1.0), 8000, "PCM_16"),
        "sr96k.wav": (tone(96000, 1.0), 96000, "PCM_16"),
        "long10min.wav": (np.zeros(16000 * 600, dtype=np.float32), 16000, "PCM_16"),
    }
    for name, (x, sr, sub) in good.items():
        sf.write(a / name, x, sr, subtype=sub)
    nan = tone(16000, 1.0)
    nan[100] = np.nan
    sf.write(a / "nan.wav", nan, 16000, subtype="FLOAT")
    full = (a / "stereo.wav").read_bytes()
    (a / "truncated.wav").write_bytes(full[:30])  # header cut mid-way
    with wave.open(str(a / "empty.wav"), "wb") as w:  # a valid header, zero samples
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
    (a / "notaudio.wav").write_text("this is a text file, not audio\n")
    (a / "broken_link.wav").symlink_to(a / "gone.wav")  # inside the root, target missing
    names = [*good, "nan.wav", "truncated.wav", "empty.wav", "notaudio.wav", "broken_link.wav"]
    pd.DataFrame({"path": [f"audio/{n}" for n in names], "label": "happy", "speaker": "s1",
                  "language": "en"}).to_csv(root / "manifest.csv", index=False)
    return root, good


def test_bad_audio_rows_or_specific_rejects(bad_audio_corpus):
    root, good = bad_audio_corpus
    m, r = read_corpus("manifest", root)
    assert sorted(Path(p).name for p in m.path) == sorted(good)
    reasons = {Path(p).name: reason for p, reason in zip(r.path, r.reason, strict=True)}
    assert reasons == {"nan.wav": "bad_samples", "truncated.wav": "unreadable_audio", "empty.wav": "zero_length",
                       "notaudio.wav": "unreadable_audio", "broken_link.wav": "audio_missing"}
    assert "broken symlink" in r.set_index("path").loc["audio/broken_link.wav", "detail"]
    rows = m.set_index("path")
    assert rows.loc["audio/stereo.wav", "channels"] == 2
    assert rows.loc["audio/sr96k.wav", "sample_rate"] == 96000
    assert rows.loc["audio/long10min.wav", "duration_s"] == pytest.approx(600.0)
    w = load_clip(root / "audio" / "stereo.wav")  # down-mixed and resampled
    assert w.ndim == 1 and len(w) == 16000
    assert len(load_clip(root / "audio" / "sr8k.wav")) == 16000


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permission bits")
def test_unreadable_permissions(bad_audio_corpus):
    root, _ = bad_audio_corpus
    (root / "audio" / "pcm8.wav").chmod(0)
    _, r = read_corpus("manifest", root)
    assert "audio/pcm8.wav" in set(r.loc[r.reason == "unreadable_audio", "path"])


def _materialize_corpus(name, corpora_root, data_dir, instance):
    data = DataDirResource(path=str(data_dir))
    res = {"corpora": CorporaResource(root=str(corpora_root)), "data_dir": data,
           "io_manager": ParquetIOManager(data_dir=data)}
    return dg.materialize([make_raw_corpus_asset(name), make_corpus_asset(name)], resources=res, instance=instance,
                          selection=[dg.AssetKey(["corpora", name])])


@pytest.mark.e2e
def test_materializing_twice_gives_byte_identical_parquet(tmp_path, bad_audio_corpus):
    root, _ = bad_audio_corpus
    corpora = tmp_path / "corpora"
    corpora.mkdir()
    (corpora / "manifest").symlink_to(root)
    synth_corpus("crema_d", corpora / "crema_d", speakers=1, per_class=1)
    with dg.instance_for_test() as inst:
        for name in ("manifest", "crema_d"):
            assert _materialize_corpus(name, corpora, tmp_path / "d", inst).success
            table = tmp_path / "d" / "assets" / "corpora" / f"{name}.parquet"
            rejects = tmp_path / "d" / "rejects" / f"{name}.parquet"
            first = table.read_bytes(), rejects.read_bytes()
            assert _materialize_corpus(name, corpora, tmp_path / "d", inst).success
            assert (table.read_bytes(), rejects.read_bytes()) == first


def test_interrupted_write_leaves_previous_table(tmp_path, monkeypatch):
    path = tmp_path / "t.parquet"
    write_parquet(pd.DataFrame({"a": [1, 2]}), path)
    before = path.read_bytes()
    import pyarrow.parquet as pq

    def crash(table, where, **kw):
        Path(where).write_bytes(b"PAR1 half written")
        raise KeyboardInterrupt("killed mid-write")

    monkeypatch.setattr(pq, "write_table", crash)
    with pytest.raises(KeyboardInterrupt):
        write_parquet(pd.DataFrame({"a": [3]}), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]  # no temp file left behind


def test_mlflow_unreachable_fails_fast_or_falls_back(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block exits: nothing listens there
    data_dir = DataDirResource(path=str(tmp_path))
    down = MlflowResource(tracking_uri=f"http://127.0.0.1:{port}", data_dir=data_dir, probe_timeout_s=2,
                          request_max_retries=0)  # retries: test_mlflow_that_hangs_fails_fast_naming_the_uri
    with pytest.raises(RuntimeError, match=rf"MLflow tracking server unreachable at http://127.0.0.1:{port}"):
        down.ensure_available()
    local = MlflowResource(tracking_uri=f"http://127.0.0.1:{port}", data_dir=data_dir, on_unavailable="local",
                           probe_timeout_s=2, request_max_retries=0)
    uri = local.ensure_available()
    assert uri == f"sqlite:///{tmp_path.resolve()}/mlflow_fallback.db" and local.uri() == uri
    run_id = local.create_run("fallback", {})
    local.log_metrics(run_id, {"x": 1.0})
    assert local.client().get_run(run_id).data.metrics == {"x": 1.0}


@pytest.fixture()
def hanging_mlflow():
    """An HTTP server on 127.0.0.1 that accepts connections and answers /health with 200 but never
    answers an API call (the hung-tracking-server fault): yields its URI."""
    release = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            if self.path == "/health":
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"OK")
            else:
                release.wait(60)  # hang until the test ends

        do_POST = do_GET  # noqa: N815

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        release.set()
        server.shutdown()
        server.server_close()


@pytest.mark.timeout(120)
def test_mlflow_that_hangs_fails_fast_naming_the_uri(hanging_mlflow, tmp_path, monkeypatch, caplog):
    """/health passes, the API hangs: the probe gives up after its short timeout and retries (each
    retry logged), and MLflow's own client uses the configured timeout, not 4 × 120 s."""
    for var in ("MLFLOW_HTTP_REQUEST_TIMEOUT", "MLFLOW_HTTP_REQUEST_MAX_RETRIES"):
        monkeypatch.delenv(var, raising=False)  # ensure_available sets them; monkeypatch restores
    res = MlflowResource(tracking_uri=hanging_mlflow, data_dir=DataDirResource(path=str(tmp_path)), probe_timeout_s=1,
                         request_timeout_s=1, request_max_retries=1)
    log = logging.getLogger("test_mlflow_hang")
    with caplog.at_level(logging.WARNING, logger="test_mlflow_hang"):
        with pytest.raises(RuntimeError, match=rf"{hanging_mlflow} accepted the connection but did not answer") as err:
            res.ensure_available(log)
    assert "after 2 tries" in str(err.value) and "on_unavailable: local" in str(err.value)
    retries = [r.getMessage() for r in caplog.records if r.name == "test_mlflow_hang"]
    assert len(retries) == 1 and "(try 1/2); retrying" in retries[0] and hanging_mlflow in retries[0]
    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "1" and os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "1"
    # MLflow's client now gives up after 1 s per request and one retry, and the retry reaches the log
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="test_mlflow_hang"):
        with pytest.raises(Exception, match="127.0.0.1"):
            res.client().search_experiments(max_results=1)
    assert any("MLflow HTTP request retried" in r.getMessage() for r in caplog.records), caplog.text


@pytest.mark.parametrize("field,value,message", [
    ("window_s", 0.5, "window_s must be >= 1 s"),
    ("epochs", 0, "epochs must be >= 1"),
    ("lr", -1.0, "lr must be > 0"),
    ("bogus", 1, "unknown training config field"),
    ("fill", 0.0, r"fill must be in \(0, 1\]"),
    ("fill", 1.5, r"fill must be in \(0, 1\]"),
    ("domain_weight", -0.01, "domain_weight must be >= 0"),
    ("domain_loss", "reverse", "domain_loss must be one of"),
])
def test_out_of_range_config_is_refused(field, value, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig.from_dict({field: value})


def test_missing_manifest_column_names_it(tmp_path):
    (tmp_path / "manifest.csv").write_text("path,label,language\na.wav,happy,en\n")
    with pytest.raises(ValueError, match=r"\['speaker'\]"):
        read_corpus("manifest", tmp_path)


def test_zero_shot_corpus_configured_as_training_is_refused():
    import pandas as pd

    from ser_pipeline.labels.splits import assign_splits

    df = pd.DataFrame({"utterance_id": ["a", "b"], "corpus": ["ravdess", "emodb"], "speaker": ["x", "y"],
                       "official_split": [None, None]})
    roles = {"ravdess": "train", "emodb": "zero_shot"}
    with pytest.raises(ValueError, match=r"train_corpora: \['emodb'\] are \['zero_shot'\]"):
        assign_splits(df, roles, train_corpora=["ravdess", "emodb"])
    assert assign_splits(df, roles, validation_fraction=0.0, train_corpora=["ravdess"]).tolist() == ["train", "zero_shot"]


def test_empty_training_split_is_refused(tmp_path):
    from ser_pipeline.training.config import TrainConfig
    from ser_pipeline.training.loop import train

    with pytest.raises(ValueError, match="training split is empty"):
        train(TrainConfig(), pd.DataFrame(), None, {}, domain_vocab=[], prior=np.ones(8) / 8, out_dir=tmp_path)


def test_parallel_scan_equals_sequential_scan(bad_audio_corpus, tmp_path):
    """Worker processes return the same rows and the same rejects (errors cross process bounds)."""
    from ser_pipeline.corpora.base import ScanSettings

    root, _ = bad_audio_corpus
    df = pd.read_csv(root / "manifest.csv")
    for k in range(70):  # >= 64 files switches to worker processes
        (root / "audio" / f"copy{k}.wav").write_bytes((root / "audio" / "pcm24.wav").read_bytes())
    extra = pd.DataFrame({"path": [f"audio/copy{k}.wav" for k in range(70)], "label": "sad", "speaker": "s2",
                          "language": "en"})
    pd.concat([df, extra]).to_csv(root / "manifest.csv", index=False)
    m1, r1 = read_corpus("manifest", root, scan=ScanSettings(workers=1))
    m2, r2 = read_corpus("manifest", root, scan=ScanSettings(workers=2))
    pd.testing.assert_frame_equal(m1, m2)
    pd.testing.assert_frame_equal(r1, r2)
    assert len(r2) == 5


def test_non_utf8_manifest_and_duplicate_paths(bad_audio_corpus):
    root, _ = bad_audio_corpus
    text = "path,label,speaker,language\naudio/stereo.wav,happy,Jos\xe9,es\naudio/stereo.wav,sad,Jos\xe9,es\n"
    (root / "manifest.csv").write_bytes(text.encode("latin-1"))
    m, r = read_corpus("manifest", root)
    assert m.speaker.tolist() == ["manifest/Jos\xe9"]
    assert r.reason.tolist() == ["duplicate_id"] and "manifest/audio/stereo" in r.detail[0]
