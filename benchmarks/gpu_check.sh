#!/usr/bin/env bash
# The GPU check of issue 17.3, one command on a CUDA machine with a fresh clone:
#
#     bash benchmarks/gpu_check.sh            # -> benchmarks/gpu_check.txt
#
# Installs into .venv with `make install` (PyPI only: on Linux pip's torch==2.13.0 wheel is the CUDA
# build), then runs, each under `timeout` so the whole check stays under 8 minutes:
#   1. medium bf16 train step, batch 16 windows of 30 s: windows/s, TFLOP/s, MFU against the peak
#      looked up by torch.cuda.get_device_name() (benchmarks/train_step.py's table: H100/H200 989,
#      A100 312, L40S 362, L4 121 TFLOP/s dense bf16), eager and with --compile;
#   2. input pipeline from the cache with 1, 8 and 16 DataLoader workers (s of audio per s);
#   3. log-mel on the GPU vs the CPU;
#   4. inference RTF for base and medium on cuda (fp32 vs bf16);
#   5. the demo graph (make demo's job) with the GPU executor settings: multiprocess executor,
#      emotion_model on cuda.
# A step that fails or times out is recorded as such and the next one runs; steps are capped by
# what is left of the budget (BUDGET_S, 470 s), later ones are skipped once it is spent.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT_FILE:-benchmarks/gpu_check.txt}
PY=.venv/bin/python
export PYTHONPATH=$PWD DAGSTER_HOME=$PWD/dagster_home SER_DATA_DIR=${SER_DATA_DIR:-$PWD/data}
export MLFLOW_TRACKING_URI=${MLFLOW_TRACKING_URI:-sqlite:///$SER_DATA_DIR/mlflow.db}

BUDGET_S=${BUDGET_S:-470}  # the whole check stays under 8 minutes: each step gets at most what is left
DEADLINE=$((SECONDS + BUDGET_S))

step() {  # step <seconds> <title> <command...>: run with a time limit, keep its output and status
  local limit=$1 title=$2; shift 2
  local left=$((DEADLINE - SECONDS))
  if [ "$left" -lt 10 ]; then echo "## $title: SKIPPED (the ${BUDGET_S} s budget is spent)"; echo; return; fi
  [ "$limit" -gt "$left" ] && limit=$left
  echo "## $title (limit ${limit}s)"
  local t0=$SECONDS
  timeout --kill-after=10 "$limit" "$@" 2>&1 | grep -v -i "warning" | tail -40
  local rc=${PIPESTATUS[0]}
  echo "-> exit $rc after $((SECONDS - t0)) s$([ "$rc" = 124 ] && echo ' (TIMED OUT)')"
  echo
}

{
  echo "# gpu_check $(date -u +%FT%TZ) $(git rev-parse --short HEAD 2>/dev/null) on $(hostname)"
  step 240 "install (make install)" make install
  step 30 "device" $PY -c "import torch; assert torch.cuda.is_available(), 'no CUDA device visible to torch'; \
print(torch.__version__, torch.version.cuda, torch.cuda.get_device_name(), \
f'{torch.cuda.get_device_properties(0).total_memory / 2**30:.0f} GiB', 'bf16', torch.cuda.is_bf16_supported())"
  nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,power.limit --format=csv 2>&1 | head -3
  step 120 "1. train step, whisper-medium, bf16, batch 16 x 30 s" \
    $PY benchmarks/train_step.py --size medium --batch 16 --steps 10 --warmup 3 --device cuda
  step 180 "1b. the same with torch.compile of the encoder (compile: true; warm-up includes the compile)" \
    $PY benchmarks/train_step.py --size medium --batch 16 --steps 10 --warmup 3 --device cuda --compile
  step 90 "2. input pipeline, from the cache, 1/8/16 workers" \
    $PY benchmarks/input_pipeline.py --workers 1 8 16 --epochs 2
  step 30 "3. log-mel, GPU" $PY benchmarks/logmel.py --batch 32 --device cuda
  step 30 "3. log-mel, CPU (same machine)" $PY benchmarks/logmel.py --batch 32 --device cpu
  step 90 "4. inference RTF on cuda, base and medium: fp32 vs bf16 (--fast), batch of 4" \
    $PY benchmarks/inference.py --device cuda --size base medium --clips 16 --arms fp32 bf16 batch4
  # demo.yaml with the multiprocess executor in place of in_process (a selector takes one key, so
  # this is a copy, not an overlay), plus an overlay putting training on the GPU with 8 workers
  gpu_cfg=$(mktemp --suffix .yaml) overlay=$(mktemp --suffix .yaml)
  sed 's/^    in_process: {}/    multiprocess: {max_concurrent: 8}/' configs/demo.yaml > "$gpu_cfg"
  printf 'ops:\n  emotion_model:\n    config:\n      device: cuda\n      num_workers: 8\n' > "$overlay"
  mkdir -p "$SER_DATA_DIR" "$DAGSTER_HOME"
  step 150 "5. demo graph, multiprocess executor, training on cuda" bash -c "
    .venv/bin/ser demo-data --out '$SER_DATA_DIR/demo_corpora' >/dev/null &&
    .venv/bin/dagster job execute -m ser_pipeline.definitions -j full_pipeline -c '$gpu_cfg' -c '$overlay'"
  rm -f "$gpu_cfg" "$overlay"
  echo "# done $(date -u +%FT%TZ)"
} 2>&1 | tee "$OUT"
