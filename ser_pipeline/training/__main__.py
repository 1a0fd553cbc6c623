"""``python -m ser_pipeline.training --config FILE``: train without Dagster.

The config file (YAML or JSON) names the data and the run::

    splits_table: data/splits/splits.parquet   # the `splits` asset's table (split, domain, soft_*)
    corpus_roots: {ravdess: /corpora/ravdess, crema_d: /corpora/crema_d}
    out_dir: runs/demo
    audio_cache: data/audio_cache              # optional: read clips from the cache when present
    train: {epochs: 3, window_s: 8, model: {d_model: 64}}
    launch: {nnodes: 2, rdzv_endpoint: "host:29400", ...}  # optional: how the job runs
                                                         # (ser_pipeline.training.launch; read by
                                                         # `ser train-node-command`, not here)

``--callback module:Class`` plugs in a reporter (e.g. the Dagster Pipes one,
``ser_pipeline.defs.pipes_callback:PipesCallback``); the core imports it by name only.
Under ``torchrun`` every rank runs this same command, on every node. Global rank 0 prints the
result summary and writes it to ``out_dir/result.json``.

The config file, ``splits_table``, ``corpus_roots``, ``audio_cache`` and ``out_dir`` may each be
a URL (``s3://bucket/...``; credentials and endpoint from the standard ``AWS_*`` variables):
checkpoints, the export and ``result.json`` are then written to the store, and ``--resume``
finds the newest valid checkpoint there.
"""

from __future__ import annotations

import argparse
import io
import json
import sys

import pandas as pd

from ser_pipeline.labels.splits import training_meta
from ser_pipeline.storage import location, read_bytes
from ser_pipeline.training.checkpoint import atomic_write
from ser_pipeline.training.config import TrainConfig, load_config_file
from ser_pipeline.training.launch import RESULT_FILE
from ser_pipeline.training.loop import train


def run_from_spec(spec: dict, callback=None, **train_kwargs):
    """Load the tables a spec names and call :func:`train` (``train_kwargs`` go to it, e.g.
    ``stop_after_steps``); returns the TrainResult."""
    for key in ("splits_table", "corpus_roots", "out_dir"):
        if key not in spec:
            raise ValueError(f"training spec is missing {key!r}")
    table = pd.read_parquet(io.BytesIO(read_bytes(location(spec["splits_table"], "splits_table"))))
    meta = training_meta(table)  # domain vocabulary + prior of its train rows
    cfg = TrainConfig.from_dict(spec.get("train", {}))
    cache = None
    if spec.get("audio_cache"):
        from ser_pipeline.audio.cache import cache_roots

        cache = cache_roots(spec["audio_cache"], spec["corpus_roots"])
    return train(cfg, table[table["split"] == "train"], table[table["split"] == "validation"],
                 spec["corpus_roots"], domain_vocab=meta.domain_vocab, prior=meta.prior,
                 out_dir=spec["out_dir"], callback=callback, cache=cache, **train_kwargs)


def load_callback(ref: str):
    """Instantiate ``module:Class`` (no arguments)."""
    import importlib

    module, _, attr = ref.partition(":")
    if not module or not attr:
        raise ValueError(f"--callback must look like module:Class, not {ref!r}")
    return getattr(importlib.import_module(module), attr)()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ser_pipeline.training", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True, help="YAML/JSON training spec")
    ap.add_argument("--resume", action="store_true",
                    help="continue from the newest valid checkpoint in out_dir/checkpoints")
    ap.add_argument("--callback", default=None, help="module:Class of a TrainCallback to report through")
    args = ap.parse_args(argv)
    spec = load_config_file(args.config)
    if args.resume:
        spec = {**spec, "train": {**(spec.get("train") or {}), "resume": True}}
    callback = load_callback(args.callback) if args.callback else None
    try:
        result = run_from_spec(spec, callback=callback)
        if result.export_dir is None:  # a rank other than 0 under torchrun
            return 0
        summary = {"export_dir": str(result.export_dir), "steps": result.steps,
                   "val_micro_f1": result.val_micro_f1, "final_loss": result.final_loss,
                   "seconds": result.seconds}
        if callback is not None and hasattr(callback, "on_result"):
            callback.on_result(summary)
        print(json.dumps(summary))
        # for a launcher on another node (it reads this, not our stdout); written whole or not at all
        atomic_write(location(spec["out_dir"], "out_dir") / RESULT_FILE, json.dumps(summary).encode())
        return 0
    finally:
        if callback is not None and hasattr(callback, "close"):
            callback.close()


if __name__ == "__main__":
    sys.exit(main())
