"""benchmarks/train_step.py runs on CPU with a tiny model and reports sane numbers."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def test_train_step_benchmark_tiny_cpu():
    path = Path(__file__).parents[1] / "benchmarks" / "train_step.py"
    spec = importlib.util.spec_from_file_location("bench_train_step", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = mod.main(["--size", "tiny", "--window-s", "2", "--batch", "2", "--steps", "2", "--warmup", "1",
                    "--device", "cpu", "--n-domains", "5", "--peak-tflops", "1.0"])
    assert out["dtype"] == "fp32" and out["samples_per_s"] > 0 and 0 < out["mfu"] < 1
    assert mod.step_flops(1024, 24, 4096, 1500, 80, 1) > 1e12  # whisper-medium: ~1.8 TFLOP per window
