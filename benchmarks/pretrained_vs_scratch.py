"""Pretrained versus scratch: the same whisper-base encoder, fine-tuned from the real weights and
trained from random init, on the same generated corpora, steps and seed (issue 14.6).

    python benchmarks/pretrained_vs_scratch.py                  # ~20 min on 2 CPU cores
    python benchmarks/pretrained_vs_scratch.py --epochs 1       # a quick look

The data is the demo's (`ser demo-data`: RAVDESS, CREMA-D and a manifest corpus for training,
EMO-DB as a zero-shot set), labelled with the pipeline's own core functions (§2.2 intensity and
neutral smoothing, the 95/5 split). The real weights are faster-whisper-base from the package
registry, converted by ``ser convert-whisper`` (benchmarks/real_weights.py). Both arms use the
same TrainConfig except ``model``: ``pretrained_dir`` (the converted folder; front-end convs frozen
as in §2.5) or the same dimensions randomly initialised (convs trained, see ModelConfig).

Ends with one line per arm and a last line
``pretrained_val_f1=<a> scratch_val_f1=<b> pretrained_emodb_f1=<c> scratch_emodb_f1=<d>``
(micro F1 in %, EMO-DB after label banning and logit adjustment, as in Table 2).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from real_weights import whisper_base_folder  # noqa: E402

from ser_pipeline.corpora import get_spec, read_corpus  # noqa: E402
from ser_pipeline.experiments.runs import score_set  # noqa: E402
from ser_pipeline.labels.harmonize import add_soft_labels, corpus_mean_intensity  # noqa: E402
from ser_pipeline.labels.splits import assign_splits, training_meta  # noqa: E402
from ser_pipeline.synth import synth_corpus  # noqa: E402
from ser_pipeline.training.config import TrainConfig  # noqa: E402
from ser_pipeline.training.loop import train  # noqa: E402

CORPORA = ("ravdess", "crema_d", "manifest", "emodb")  # the demo's (ser demo-data)
#: whisper-base's encoder dimensions, for the random-init arm
BASE_DIMS = {"d_model": 512, "encoder_layers": 6, "encoder_attention_heads": 8, "encoder_ffn_dim": 2048}


def demo_splits(root: Path, *, speakers: int, per_class: int, seed: int) -> tuple[pd.DataFrame, dict[str, Path]]:
    """Generated corpora under ``root`` and their labelled, split table (the pipeline's core steps)."""
    roots, parts = {}, []
    for name in CORPORA:
        roots[name] = synth_corpus(name, root / name, seed=seed, speakers=speakers, per_class=per_class)
        table, _rejects = read_corpus(name, roots[name])
        parts.append(add_soft_labels(table, corpus_mean_intensity(table), "neutral"))
    df = pd.concat(parts, ignore_index=True).sort_values("utterance_id", kind="stable").reset_index(drop=True)
    roles = {c: get_spec(c).role for c in df["corpus"].unique()}
    return df.assign(split=assign_splits(df, roles, seed=seed)), roots


def run_arm(name: str, model_cfg: dict, args, df: pd.DataFrame, roots: dict, out: Path) -> dict:
    """Train one arm and score it; returns its figures."""
    meta = training_meta(df)
    cfg = TrainConfig.from_dict({"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
                                 "window_s": args.window_s, "seed": args.seed, "device": "cpu",
                                 "model": model_cfg})
    t0 = time.perf_counter()
    result = train(cfg, df[df["split"] == "train"], df[df["split"] == "validation"], roots,
                   domain_vocab=meta.domain_vocab, prior=meta.prior, out_dir=out / name)
    seconds = time.perf_counter() - t0
    emodb = df[(df["split"] == "zero_shot") & (df["corpus"] == "emodb")]
    figures = {"arm": name, "steps": result.steps, "train_s": round(seconds, 1),
               "val_micro_f1": round(100 * (result.val_micro_f1 or 0.0), 2),
               # Table 2's scoring: banned classes, logit adjustment by the training prior
               "emodb_micro_f1": round(100 * score_set(result.model, emodb, "emodb", meta.prior, roots)["micro_f1"], 2),
               "final_loss": round(result.final_loss, 4)}
    print(json.dumps(figures), flush=True)
    return figures


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default="data/whisper-base", help="converted whisper-base folder (made if absent)")
    ap.add_argument("--work", default=None, help="folder for corpora and runs (default: a temporary one)")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--window-s", type=float, default=4.0)
    ap.add_argument("--speakers", type=int, default=2)
    ap.add_argument("--per-class", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(max(1, torch.get_num_threads()))
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="ser_pvs_"))
    folder = whisper_base_folder(args.weights)
    df, roots = demo_splits(work / "corpora", speakers=args.speakers, per_class=args.per_class, seed=args.seed)
    counts = df.groupby("split").size().to_dict()
    print(f"data: {counts}; window {args.window_s} s, {args.epochs} epochs, batch {args.batch_size}, lr {args.lr}",
          flush=True)
    arms = [run_arm("pretrained", {"pretrained_dir": str(folder)}, args, df, roots, work),
            run_arm("scratch", dict(BASE_DIMS), args, df, roots, work)]
    pre, scr = arms
    print(f"pretrained_val_f1={pre['val_micro_f1']} scratch_val_f1={scr['val_micro_f1']} "
          f"pretrained_emodb_f1={pre['emodb_micro_f1']} scratch_emodb_f1={scr['emodb_micro_f1']}")
    return {"arms": arms, "data": counts}


if __name__ == "__main__":
    main()
