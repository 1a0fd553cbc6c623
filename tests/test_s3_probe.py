"""Header probes on object storage (issue 18, Speed): the header blocks of a chunk's objects are
fetched with several GETs in flight (bounded), then parsed from memory with the true frame count;
float files are still read to the end for NaN/inf, and a store failure stops the scan. A local moto
server (tests/s3_server.py) stands in for S3."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ser_pipeline import storage
from ser_pipeline.corpora.probe import AudioProbeError, Reason, _probe_remote, probe_audio, probe_chunk
from ser_pipeline.storage import RemoteFile, StorageError
from ser_pipeline.synth.voice import make_speaker, render
from s3_server import RequestCounter


class InFlight:
    """The most GetObject requests this process's s3fs client had sent and not yet had answered."""

    def __init__(self):
        import fsspec
        from fsspec.asyn import sync

        self.now = self.most = 0
        fs = fsspec.filesystem("s3")  # the instance the prober gets (same arguments)
        events = sync(fs.loop, fs.set_session).meta.events
        events.register("before-send.s3.GetObject", self._sent)
        events.register("response-received.s3.GetObject", self._answered)

    def _sent(self, **_kw):
        self.now += 1
        self.most = max(self.most, self.now)

    def _answered(self, **_kw):
        self.now -= 1


def _upload(s3, folder: Path) -> list[RemoteFile]:
    bucket = s3.new_bucket()
    s3.upload(folder, f"s3://{bucket}/audio")
    return [RemoteFile(f"s3://{bucket}/audio/{p.name}", p.stat().st_size, {}) for p in sorted(folder.iterdir())]


@pytest.fixture
def long_wavs(tmp_path):
    """24 generated WAVs of 4 s at 16 kHz (128 KB: twice the header block), PCM_16 and PCM_24."""
    folder = tmp_path / "wavs"
    voice = make_speaker(7, "s1")
    for i in range(24):
        render(folder / f"{i:02d}.wav", "happiness", voice, 4.0, 16000, seed=i, subtype=("PCM_16", "PCM_24")[i % 2])
    return folder


def test_header_gets_overlap_within_the_bound_and_report_true_lengths(s3, long_wavs, monkeypatch):
    files = _upload(s3, long_wavs)
    monkeypatch.setattr(storage, "PROBE_REQUESTS_IN_FLIGHT", 4)
    counter, inflight = RequestCounter().install(), InFlight()
    got = probe_chunk(files)
    assert 1 < inflight.most <= 4  # concurrent, never more than the bound
    assert counter.counts["GetObject"] == len(files) and counter.counts["HeadObject"] == 0
    # the object is longer than its prefetched head: the frame count is the file's, as read locally
    assert all(f.size > storage.PROBE_BLOCK_BYTES for f in files)
    assert got == [probe_audio(p) for p in sorted(long_wavs.iterdir())]
    assert {g.frames for g in got} == {64000}


def test_float_objects_are_scanned_past_the_head_for_nan(s3, tmp_path):
    folder = tmp_path / "float"
    folder.mkdir()
    clean = (0.1 * np.sin(np.arange(48000) / 7.0)).astype(np.float32)  # 192 KB: past the head block
    late_nan = clean.copy()
    late_nan[-5] = np.nan  # only a read to the end finds it
    sf.write(folder / "a_clean.wav", clean, 16000, subtype="FLOAT")
    sf.write(folder / "b_nan.wav", late_nan, 16000, subtype="FLOAT")
    (folder / "c_empty.wav").write_bytes(b"")
    files = _upload(s3, folder)
    files.append(files[0]._replace(url=files[0].url.replace("a_clean", "d_gone")))  # listed, then deleted
    clean_info, nan_err, empty_err, gone_err = probe_chunk(files)
    assert clean_info.frames == 48000 and clean_info.subtype == "FLOAT"
    assert isinstance(nan_err, AudioProbeError) and nan_err.reason == Reason.BAD_SAMPLES
    assert isinstance(empty_err, AudioProbeError) and empty_err.reason == Reason.UNREADABLE_AUDIO
    assert isinstance(gone_err, AudioProbeError) and gone_err.reason == Reason.AUDIO_MISSING


def test_a_store_failure_during_probing_stops_the_scan_naming_the_url(s3, long_wavs):
    files = _upload(s3, long_wavs)
    options = {"endpoint_url": "http://127.0.0.1:9", "config_kwargs": {"retries": {"max_attempts": 1}}}
    broken = [f._replace(storage_options=options) for f in files[:3]]
    with pytest.raises(StorageError, match=f"^{broken[0].url}: the endpoint is unreachable"):
        probe_chunk(broken)


def test_a_store_failure_past_the_head_is_not_taken_for_a_bad_file(s3, tmp_path):
    """The NaN scan of a float file reads past the prefetched head; libsndfile swallows what its
    read callback raises, so the store's error must still surface, not ``unreadable_audio`` or a
    clean row from a short read."""
    path = tmp_path / "long_float.wav"
    sf.write(path, (0.1 * np.sin(np.arange(48000) / 7.0)).astype(np.float32), 16000, subtype="FLOAT")
    [obj] = _upload(s3, tmp_path)
    head = path.read_bytes()[:storage.PROBE_BLOCK_BYTES]
    assert _probe_remote(obj, head).frames == 48000
    options = {"endpoint_url": "http://127.0.0.1:9", "config_kwargs": {"retries": {"max_attempts": 1}}}
    with pytest.raises(StorageError, match=f"^{obj.url}: the endpoint is unreachable"):
        _probe_remote(obj._replace(storage_options=options), head)
