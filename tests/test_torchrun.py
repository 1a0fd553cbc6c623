"""The real torchrun launcher on the training entry point: 2 CPU ranks (gloo), DataLoader workers."""

import json
import subprocess
import sys

import pytest
import yaml

from ser_pipeline.corpora import get_spec, read_corpus
from ser_pipeline.labels.harmonize import add_soft_labels, corpus_mean_intensity
from ser_pipeline.labels.splits import assign_splits

pytestmark = pytest.mark.e2e  # torchrun with 2 ranks: `make test-fast` skips it


def test_torchrun_two_ranks_through_the_entry_point(corpus_factory, tmp_path):
    root = corpus_factory("ravdess", speakers=2, per_class=1)
    m, _ = read_corpus("ravdess", root)
    df = add_soft_labels(m, corpus_mean_intensity(m))
    df["split"] = assign_splits(df, {"ravdess": get_spec("ravdess").role}, validation_fraction=0.1)
    df.to_parquet(tmp_path / "splits.parquet")
    spec = {"splits_table": str(tmp_path / "splits.parquet"),
            "corpus_roots": {"ravdess": str(root)}, "out_dir": str(tmp_path / "run"),
            "train": {"epochs": 1, "batch_size": 2, "window_s": 4.0, "device": "cpu", "num_workers": 1,
                      "model": {"d_model": 16, "encoder_layers": 1, "encoder_attention_heads": 2,
                                "encoder_ffn_dim": 32}}}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           "-m", "ser_pipeline.training", "--config", str(tmp_path / "spec.yaml")],
                          capture_output=True, text=True, timeout=600, env={"OMP_NUM_THREADS": "1",
                                                                             **__import__("os").environ})
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads([line for line in proc.stdout.splitlines() if line.startswith("{")][-1])
    assert summary["steps"] >= 1 and (tmp_path / "run" / "export" / "model.safetensors").exists()
