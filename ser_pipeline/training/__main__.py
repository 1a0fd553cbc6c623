"""``python -m ser_pipeline.training --config FILE``: train without Dagster.

The config file (YAML or JSON) names the data and the run::

    splits_table: data/splits/splits.parquet   # the `splits` asset's table (split, domain, soft_*)
    splits_meta: data/splits/splits_meta.json  # domain vocabulary + training prior
    corpus_roots: {ravdess: /corpora/ravdess, crema_d: /corpora/crema_d}
    out_dir: runs/demo
    train: {epochs: 3, window_s: 8, model: {d_model: 64}}
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from ser_pipeline.training.config import TrainConfig, load_config_file
from ser_pipeline.training.loop import train


def run_from_spec(spec: dict, callback=None):
    """Load the tables a spec names and call :func:`train`; returns the TrainResult."""
    for key in ("splits_table", "splits_meta", "corpus_roots", "out_dir"):
        if key not in spec:
            raise ValueError(f"training spec is missing {key!r}")
    table = pd.read_parquet(spec["splits_table"])
    meta = json.loads(Path(spec["splits_meta"]).read_text())
    cfg = TrainConfig.from_dict(spec.get("train", {}))
    return train(cfg, table[table["split"] == "train"], table[table["split"] == "validation"],
                 spec["corpus_roots"], domain_vocab=meta["domain_vocab"], prior=np.array(meta["prior"]),
                 out_dir=spec["out_dir"], callback=callback)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ser_pipeline.training", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True, help="YAML/JSON training spec")
    ap.add_argument("--resume", action="store_true",
                    help="continue from the newest valid checkpoint in out_dir/checkpoints")
    args = ap.parse_args(argv)
    spec = load_config_file(args.config)
    if args.resume:
        spec = {**spec, "train": {**(spec.get("train") or {}), "resume": True}}
    result = run_from_spec(spec)
    if result.export_dir is None:  # a rank other than 0 under torchrun
        return 0
    print(json.dumps({"export_dir": str(result.export_dir), "steps": result.steps,
                      "val_micro_f1": result.val_micro_f1}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
