"""Multi-node training (issue 18): the torchrun command built from the launch settings, and two
torchrun agents as two "nodes" on 127.0.0.1 (c10d rendezvous, gloo) training through the real
entry point to the same export as one node with two processes."""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

from ser_pipeline.cli import main as ser
from ser_pipeline.defs.train_config import to_launch
from ser_pipeline.defs.training import PIPES_CALLBACK, WITH_PARENT, EmotionModelConfig, training_command
from ser_pipeline.training.launch import RESULT_FILE, Launch

from s3_server import url_folders

PY = sys.executable


def test_one_process_runs_the_entry_point_itself():
    launch = to_launch(EmotionModelConfig(), "emotion_model", rdzv_id="run-1")
    assert training_command("/s/spec.yaml", launch) == [
        PY, "-m", WITH_PARENT, "ser_pipeline.training", "--config", "/s/spec.yaml", "--callback", PIPES_CALLBACK]


def test_one_node_keeps_standalone():
    launch = to_launch(EmotionModelConfig(nproc_per_node=4), "emotion_model", rdzv_id="run-1")
    assert training_command("/s/spec.yaml", launch)[:6] == [
        PY, "-m", WITH_PARENT, "torch.distributed.run", "--standalone", "--nproc_per_node=4"]


def test_several_nodes_meet_at_a_c10d_rendezvous_named_after_the_run():
    cfg = EmotionModelConfig(nnodes=3, nproc_per_node=2, rdzv_endpoint="trainer-0.ser:29400", rdzv_timeout_s=120)
    assert training_command("/s/spec.yaml", to_launch(cfg, "emotion_model", rdzv_id="dagster-run-id")) == [
        PY, "-m", WITH_PARENT, "torch.distributed.run", "--nnodes", "3", "--nproc_per_node", "2",
        "--rdzv_backend", "c10d", "--rdzv_endpoint", "trainer-0.ser:29400", "--rdzv_id", "dagster-run-id",
        "--rdzv_conf", "join_timeout=120,read_timeout=120",
        "-m", WITH_PARENT, "ser_pipeline.training", "--config", "/s/spec.yaml", "--callback", PIPES_CALLBACK]
    # an id the user set wins over the run id (several Dagster runs joining one job: not a thing,
    # but a fixed id lets hand-started nodes be scripted)
    assert to_launch(EmotionModelConfig(nnodes=2, rdzv_endpoint="h:1", rdzv_id="mine"), "emotion_model",
                     rdzv_id="dagster-run-id").rdzv_id == "mine"


@pytest.mark.parametrize("fields, problem", [
    ({"nnodes": 2}, "emotion_model.rdzv_endpoint is required when nnodes > 1"),
    ({"nnodes": 2, "rdzv_endpoint": "host-without-port"}, "emotion_model.rdzv_endpoint must be HOST:PORT"),
    ({"nnodes": 2, "rdzv_endpoint": "h:29400", "rdzv_timeout_s": 0}, "emotion_model.rdzv_timeout_s must be >= 1"),
    ({"nnodes": 0}, "emotion_model.nnodes must be >= 1"),
])
def test_bad_launch_settings_are_one_line_failures_naming_the_key(fields, problem):
    with pytest.raises(dg.Failure) as exc:
        to_launch(EmotionModelConfig(**fields), "emotion_model", rdzv_id="run-1")
    assert exc.value.description.startswith(problem) and "\n" not in exc.value.description


def test_the_other_nodes_command_comes_from_the_spec(tmp_path, capsys):
    launch = Launch(nproc_per_node=2, nnodes=2, rdzv_endpoint="10.0.0.5:29400", rdzv_id="r1", rdzv_timeout_s=60)
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump({"out_dir": str(tmp_path), "launch": launch.to_dict()}))
    assert ser(["train-node-command", str(tmp_path / "spec.yaml")]) == 0
    assert shlex.split(capsys.readouterr().out) == [
        "python", "-m", "torch.distributed.run", *launch.torchrun_args(),
        "-m", "ser_pipeline.training", "--config", str(tmp_path / "spec.yaml")]
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({"launch": {"nnodes": 2}}))
    with pytest.raises(SystemExit, match=r"bad.yaml: launch.rdzv_endpoint is required"):
        ser(["train-node-command", str(tmp_path / "bad.yaml")])


# --- two nodes on one machine -------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_spec(path: Path, base: dict, out_dir: Path, launch: Launch) -> Path:
    path.write_text(yaml.safe_dump({**base, "out_dir": str(out_dir), "launch": launch.to_dict()}))
    return path


def _env(tmp: Path) -> dict[str, str]:
    """A node's environment: its own TMPDIR, one thread, its address (torchrun's --local_addr),
    and no Dagster Pipes session (the test is not a Dagster step)."""
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAGSTER_PIPES")}
    return {**env, "TMPDIR": str(tmp), "OMP_NUM_THREADS": "1", "PET_LOCAL_ADDR": "127.0.0.1"}


def _weights(export: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(export / "model.safetensors")


@pytest.mark.e2e
def test_two_nodes_train_the_same_model_as_one_node_with_two_processes(corpus_factory, tmp_path, capsys, s3):
    """The two nodes train from a bucket (spec, table, corpus and output all ``s3://``), as on a
    cluster without a shared volume; the one-node run reads local folders. Same weights."""
    from ser_pipeline.corpora import get_spec, read_corpus
    from ser_pipeline.labels.harmonize import add_soft_labels, corpus_mean_intensity
    from ser_pipeline.labels.splits import assign_splits

    root = corpus_factory("ravdess", speakers=2, per_class=1)
    m, _ = read_corpus("ravdess", root)
    df = add_soft_labels(m, corpus_mean_intensity(m))
    df["split"] = assign_splits(df, {"ravdess": get_spec("ravdess").role}, validation_fraction=0.1)
    df.to_parquet(tmp_path / "splits.parquet")
    base = {"splits_table": str(tmp_path / "splits.parquet"), "corpus_roots": {"ravdess": str(root)},
            "train": {"epochs": 1, "batch_size": 2, "window_s": 4.0, "device": "cpu", "seed": 3,
                      "model": {"d_model": 16, "encoder_layers": 1, "encoder_attention_heads": 2,
                                "encoder_ffn_dim": 32}}}

    # node 0 runs what the asset launches (callback included: no Pipes session here, so whichever
    # node gets global rank 0 must not crash); node 1 runs what `ser train-node-command` prints
    two = Launch(nproc_per_node=1, nnodes=2, rdzv_endpoint=f"127.0.0.1:{_free_port()}", rdzv_id="multinode-test",
                 rdzv_timeout_s=120)
    bucket = s3.new_bucket()
    fs = s3.fs()
    s3.upload(root, f"s3://{bucket}/corpora/ravdess")
    fs.put_file(str(tmp_path / "splits.parquet"), f"{bucket}/splits.parquet")
    in_bucket = {**base, "splits_table": f"s3://{bucket}/splits.parquet",
                 "corpus_roots": {"ravdess": f"s3://{bucket}/corpora/ravdess"},
                 "out_dir": f"s3://{bucket}/two_nodes", "launch": two.to_dict()}
    spec = f"s3://{bucket}/two_nodes.yaml"
    fs.pipe(f"{bucket}/two_nodes.yaml", yaml.safe_dump(in_bucket).encode())
    assert ser(["train-node-command", str(spec), "--python", PY]) == 0
    joiner = shlex.split(capsys.readouterr().out)
    nodes = [subprocess.Popen(cmd, env=_env(tmp_path / f"tmp{i}"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for i, cmd in enumerate([training_command(str(spec), two), joiner])]
    outs = [n.communicate(timeout=600) for n in nodes]
    for n, (_, err) in zip(nodes, outs, strict=True):
        assert n.returncode == 0, err[-3000:]
    # exactly one node printed the result (global rank 0), and it also left result.json for a
    # launcher whose node did not get rank 0
    printed = [json.loads(line) for out, _ in outs for line in out.splitlines() if line.startswith('{"export_dir"')]
    assert len(printed) == 1
    assert json.loads(fs.cat_file(f"{bucket}/two_nodes/{RESULT_FILE}")) == printed[0]
    fs.get(f"{bucket}/two_nodes/export/", str(tmp_path / "two_nodes" / "export") + "/", recursive=True)
    assert not url_folders(tmp_path)  # no ./s3:/ folder

    one = Launch(nproc_per_node=2)
    spec1 = _write_spec(tmp_path / "one_node.yaml", base, tmp_path / "one_node", one)
    proc = subprocess.run([PY, "-m", "torch.distributed.run", *one.torchrun_args(), "-m", "ser_pipeline.training",
                           "--config", str(spec1)], env=_env(tmp_path / "tmp_one"), capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]

    a, b = _weights(tmp_path / "two_nodes" / "export"), _weights(tmp_path / "one_node" / "export")
    assert a.keys() == b.keys()
    assert all(a[k].equal(b[k]) for k in a), [k for k in a if not a[k].equal(b[k])]


def test_rank_zero_without_a_pipes_session_prints_its_reports(monkeypatch, capsys):
    """Global rank 0 on a node that joined by hand has no Pipes session: it reports to its own
    log instead of crashing or dropping the reports."""
    from ser_pipeline.defs.pipes_callback import PipesCallback

    for name in ("DAGSTER_PIPES_CONTEXT", "DAGSTER_PIPES_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RANK", "0")
    cb = PipesCallback()
    cb.on_step(5, {"loss": 1.5})
    cb.on_epoch(0, {"val_micro_f1": 0.25})
    cb.on_result({"export_dir": "x"})
    cb.close()
    err = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    assert err == [{"step": 5, "loss": 1.5}, {"epoch": 0, "val_micro_f1": 0.25}]
