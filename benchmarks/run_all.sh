#!/usr/bin/env bash
# Run every benchmark once on this machine and keep the output (figures go to benchmarks/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
export PYTHONPATH=$PWD
{
  echo "# $(date -u +%FT%TZ) $(uname -m) $(nproc) cores; $(lscpu | sed -n 's/^Model name: *//p')"
  $PY benchmarks/packing.py
  $PY benchmarks/input_pipeline.py --workers 1 2
  $PY benchmarks/scan.py --files 20000 --workers 2 --memory
  $PY benchmarks/s3_cache.py
  $PY benchmarks/logmel.py --batch 16
  $PY benchmarks/inference.py --size tiny base medium --clips 8
  $PY benchmarks/table_stages.py
  $PY benchmarks/train_step.py --size tiny --batch 2 --steps 5
  $PY benchmarks/train_step.py --size medium --batch 1 --steps 2 --warmup 1
} 2>&1 | tee benchmarks/latest.txt
