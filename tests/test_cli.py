"""The ``ser`` command as a user meets it: the installed entry point, run from another folder."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from ser_pipeline.defs.cli import config_problems
from ser_pipeline.defs.cli import main as ser
from ser_pipeline.emotions import RELEASED_PRIOR
from ser_pipeline.model import ModelConfig, build_model, export_model
from ser_pipeline.synth import synth_corpus

REPO = Path(__file__).resolve().parents[1]


def test_check_config_names_each_typo_with_a_suggestion(tmp_path, capsys):
    bad = {"ops": {"emotion_model": {"config": {"epoch": 3, "model": {"d_modle": 4}}}},
           "resources": {"corpora": {"config": {"rot": "x"}}}}
    assert config_problems(bad, "full_pipeline") == [
        "ops.emotion_model.config: unknown key 'epoch' (did you mean 'epochs'?)",
        "ops.emotion_model.config.model: unknown key 'd_modle' (did you mean 'd_model'?)",
        "resources.corpora.config: unknown key 'rot' (did you mean 'root'?)",
    ]
    assert config_problems({}, "full_pipeline") == []
    (tmp_path / "run.yaml").write_text("ops: {emotion_model: {config: {epoch: 3}}}\n")
    assert ser(["check-config", str(tmp_path / "run.yaml")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"{tmp_path / 'run.yaml'}: ops.emotion_model.config: unknown key 'epoch' (did you mean 'epochs'?)"]
    for shipped in ("demo.yaml", "demo_pretrained.yaml", "paper.yaml"):
        assert ser(["check-config", str(REPO / "configs" / shipped)]) == 0, shipped


def test_corpora_lists_what_is_present_under_the_root(tmp_path, capsys):
    synth_corpus("emodb", tmp_path / "emodb", speakers=1, per_class=1)
    assert ser(["corpora", "--root", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"corpora under {tmp_path} (1 of 21 present)"
    assert lines[1].split() == ["corpus", "role", "languages", "present", "title"]
    emodb = next(line for line in lines if line.startswith("emodb "))
    ravdess = next(line for line in lines if line.startswith("ravdess "))
    assert emodb.split()[:4] == ["emodb", "zero_shot", "de", "yes"] and ravdess.split()[3] == "-"
    assert len({line.index("present") if i == 1 else None for i, line in enumerate(lines)} - {None}) == 1


@pytest.mark.e2e
def test_cli_and_pipeline_share_the_tracking_store(tmp_path, monkeypatch):
    """A model registered the way the pipeline registers it (MlflowResource on the data folder) is
    what the installed `ser` resolves, run from another folder: no stray mlflow.db or mlruns there."""
    from ser_pipeline.defs.mlflow_model import log_and_register
    from ser_pipeline.defs.resources import DataDirResource, MlflowResource

    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["SER_DATA_DIR"] = str(data)
    torch.manual_seed(0)
    export = export_model(build_model(ModelConfig(d_model=16, encoder_layers=1, encoder_attention_heads=1,
                                                  encoder_ffn_dim=32), 2.0), tmp_path / "export",
                          prior=RELEASED_PRIOR)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)  # the defaults, as a new user has them
    monkeypatch.setenv("SER_DATA_DIR", str(data))
    ml = MlflowResource(data_dir=DataDirResource())  # what definitions.py builds
    uri = ml.ensure_available()
    with ml.run("registration", {}) as run_id:
        log_and_register(run_id, export, uri)
    assert uri == f"sqlite:///{data.resolve()}/mlflow.db"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    sf.write(elsewhere / "talk.wav", 0.1 * np.sin(np.arange(24000) / 9.0).astype(np.float32), 16000)
    ser_exe = Path(sys.executable).with_name("ser")
    proc = subprocess.run([str(ser_exe), "predict", "talk.wav", "missing.wav", "--model",
                           "models:/ser_emotion_model/1", "--out", "t.csv"], cwd=elsewhere, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr[-2000:]  # one of the two files is missing
    assert "talk.wav: " in proc.stdout and "model: models:/ser_emotion_model/1" in proc.stderr
    assert "missing.wav: no such audio file" in proc.stderr and "Traceback" not in proc.stderr
    assert "timeline: t_talk.csv" in proc.stderr  # several inputs: one timeline per file, named by its stem
    assert sorted(p.name for p in elsewhere.iterdir()) == ["t_talk.csv", "talk.wav"]  # no mlflow.db, no mlruns
