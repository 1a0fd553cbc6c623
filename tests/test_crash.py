"""A training process killed with SIGKILL mid-epoch, then resumed, ends with the weights of an
uninterrupted run (CPU, tiny); a truncated newest checkpoint is skipped for the previous one."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from safetensors.torch import load_file

from ser_pipeline.corpora import get_spec, read_corpus
from ser_pipeline.labels.harmonize import add_soft_labels, corpus_mean_intensity
from ser_pipeline.labels.splits import assign_splits

pytestmark = pytest.mark.e2e  # training subprocesses killed and resumed: not in `make test-fast`


def make_spec(tmp_path: Path, root: Path, out: str) -> Path:
    if not (tmp_path / "splits.parquet").exists():
        m, _ = read_corpus("ravdess", root)
        df = add_soft_labels(m, corpus_mean_intensity(m))
        df["split"] = assign_splits(df, {"ravdess": get_spec("ravdess").role}, validation_fraction=0.0)
        df.to_parquet(tmp_path / "splits.parquet")
    spec = {"splits_table": str(tmp_path / "splits.parquet"),
            "corpus_roots": {"ravdess": str(root)}, "out_dir": str(tmp_path / out),
            "train": {"epochs": 3, "batch_size": 1, "window_s": 4.0, "device": "cpu", "checkpoint_every": 1,
                      "keep_checkpoints": 50, "log_every": 1,
                      "model": {"d_model": 16, "encoder_layers": 1, "encoder_attention_heads": 2,
                                "encoder_ffn_dim": 32}}}
    path = tmp_path / f"{out}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def run(spec: Path, *extra: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "ser_pipeline.training", "--config", str(spec), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, **kw)


def _same_weights(a_file: str, b_file: str) -> None:
    a, b = load_file(a_file), load_file(b_file)
    assert a.keys() == b.keys()
    for k in a:
        assert (a[k] == b[k]).all(), k


@pytest.mark.timeout(900)
def test_sigkill_then_resume_equals_uninterrupted(corpus_factory, tmp_path, s3):
    """Killed mid-epoch, then ``--resume``: the export equals the uninterrupted run's, bit for bit.
    Twice against one uninterrupted run (it takes as long as each of the others): with local
    folders, where the newest checkpoint is torn in half, and with the run's table, corpus,
    checkpoints and export in a bucket (issue 18), where the newest checkpoint lost its digest
    sidecar (its commit marker never arrived), so ``--resume`` takes the one before, from the bucket."""
    root = corpus_factory("ravdess", speakers=2, per_class=1)
    full = run(make_spec(tmp_path, root, "full"))
    assert full.wait(timeout=300) == 0, full.stderr.read().decode()[-2000:]
    reference = str(tmp_path / "full" / "export" / "model.safetensors")

    # local folders
    spec = make_spec(tmp_path, root, "killed")
    proc = run(spec)
    ckpts = tmp_path / "killed" / "checkpoints"
    deadline = time.time() + 300
    while time.time() < deadline and len(list(ckpts.glob("ckpt_*.pt.sha256"))) < 3:
        assert proc.poll() is None, "training finished before it could be killed"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # mid-epoch: no clean-up runs
    proc.wait()
    assert not (tmp_path / "killed" / "export").exists()
    newest = sorted(ckpts.glob("ckpt_*.pt"))[-1]
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])  # and a torn newest checkpoint
    resumed = run(spec, "--resume")
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err.decode()[-2000:]
    assert "resumed from" in err.decode()
    _same_weights(reference, str(tmp_path / "killed" / "export" / "model.safetensors"))

    # a bucket
    bucket, fs = s3.new_bucket(), s3.fs()
    s3.upload(root, f"s3://{bucket}/corpora/ravdess")
    fs.put_file(str(tmp_path / "splits.parquet"), f"{bucket}/splits.parquet")
    spec = yaml.safe_load(make_spec(tmp_path, root, "killed_s3").read_text())
    spec.update(splits_table=f"s3://{bucket}/splits.parquet", corpus_roots={"ravdess": f"s3://{bucket}/corpora/ravdess"},
                out_dir=f"s3://{bucket}/killed")
    fs.pipe(f"{bucket}/killed.yaml", yaml.safe_dump(spec).encode())
    proc = run(f"s3://{bucket}/killed.yaml")
    ckpts = f"{bucket}/killed/checkpoints"
    deadline = time.time() + 300

    def sidecars() -> list[str]:
        fs.invalidate_cache()
        return sorted(k for k in (fs.find(ckpts) if fs.exists(ckpts) else []) if k.endswith(".pt.sha256"))

    while time.time() < deadline and len(sidecars()) < 3:
        assert proc.poll() is None, "training finished before it could be killed"
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not fs.exists(f"{bucket}/killed/export")
    fs.rm_file(sidecars()[-1])  # the newest checkpoint's commit marker never arrived
    resumed = run(f"s3://{bucket}/killed.yaml", "--resume")
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err.decode()[-2000:]
    assert "resumed from s3://" in err.decode()
    _same_weights(reference, _fetched(fs, f"{bucket}/killed/export/model.safetensors", tmp_path))


def _fetched(fs, key: str, tmp_path: Path) -> str:
    """A local copy of object ``key`` (safetensors reads files)."""
    out = tmp_path / "fetched" / key.rsplit("/", 1)[-1]
    out.parent.mkdir(parents=True, exist_ok=True)
    fs.get_file(key, str(out))
    return str(out)
