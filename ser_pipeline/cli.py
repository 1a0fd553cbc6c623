"""The ``ser`` command: list corpora, generate synthetic corpora, run predictions."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEMO_CORPORA = ("ravdess", "crema_d", "manifest", "emodb")


def _cmd_corpora(args: argparse.Namespace) -> int:
    from ser_pipeline.corpora import available, get_spec

    if args.markdown:
        from ser_pipeline.corpora.docs import registry_markdown

        sys.stdout.write(registry_markdown())
        return 0
    for name in available():
        s = get_spec(name)
        print(f"{name:14s} {s.role:10s} {','.join(s.languages) or '-':10s} {s.title}")
    return 0


def _cmd_synth(args: argparse.Namespace) -> int:
    from ser_pipeline.synth import synth_corpus

    out = synth_corpus(args.name, args.out, seed=args.seed, speakers=args.speakers, per_class=args.per_class)
    print(f"wrote synthetic {args.name} to {out}")
    return 0


def _cmd_demo_data(args: argparse.Namespace) -> int:
    from ser_pipeline.synth import synth_corpus

    root = Path(args.out)
    for name in args.corpora:
        synth_corpus(name, root / name, seed=args.seed, speakers=args.speakers, per_class=args.per_class)
        print(f"wrote synthetic {name} to {root / name}")
    return 0


def _resolve_model(ref: str) -> Path:
    """A local export folder for a path, or for an MLflow ``models:/``/``runs:/`` URI (resolved by
    the orchestration shell, which the core only reaches by name)."""
    if ref.startswith(("models:/", "runs:/", "mlflow-artifacts:")):
        import importlib

        return importlib.import_module("ser_pipeline.defs.mlflow_model").download_export(ref)
    path = Path(ref)
    if not (path / "ser_model.json").exists():
        raise SystemExit(f"ser predict: {path} is not a model export (no ser_model.json)")
    return path


def _cmd_predict(args: argparse.Namespace) -> int:
    import json as _json

    from ser_pipeline.emotions import CLASSES
    from ser_pipeline.inference import plot_timeline, predict_file, write_timeline
    from ser_pipeline.training.loop import load_exported

    model, meta = load_exported(_resolve_model(args.model), device=args.device)
    many = len(args.audio) > 1
    for audio in args.audio:
        pred = predict_file(model, meta, audio, hop_s=args.hop, ban=args.ban, device=args.device)
        probs = ", ".join(f"{c} {p:.2f}" for c, p in sorted(zip(CLASSES, pred.clip_probs), key=lambda x: -x[1])[:3])
        print(f"{audio}: {pred.top}  ({probs}; {pred.duration_s:.1f} s, {len(pred.frame_probs)} frames at 50 Hz)")
        stem = Path(audio).stem
        if args.out:
            out = Path(args.out)
            write_timeline(pred, out.with_name(f"{out.stem}_{stem}{out.suffix}") if many else out)
        if args.plot:
            png = Path(args.plot)
            plot_timeline(pred, png.with_name(f"{png.stem}_{stem}{png.suffix}") if many else png)
        if args.json:
            print(_json.dumps({"path": audio, "top": pred.top,
                               "clip_probs": dict(zip(CLASSES, map(float, pred.clip_probs)))}))
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="ser", description="ser_pipeline command line")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("corpora", help="list the corpus registry")
    p.add_argument("--markdown", action="store_true", help="print docs/corpora.md")
    p.set_defaults(func=_cmd_corpora)
    p = sub.add_parser("synth", help="write a synthetic corpus in its real distribution layout")
    p.add_argument("name")
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--speakers", type=int, default=None)
    p.add_argument("--per-class", type=int, default=2)
    p.set_defaults(func=_cmd_synth)
    p = sub.add_parser("demo-data", help="write the demo's synthetic corpora under one root")
    p.add_argument("--out", required=True)
    p.add_argument("--corpora", nargs="+", default=list(DEMO_CORPORA))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--speakers", type=int, default=6)
    p.add_argument("--per-class", type=int, default=6)
    p.set_defaults(func=_cmd_demo_data)
    p = sub.add_parser("predict", help="emotion of audio files and their 50 Hz timeline")
    p.add_argument("audio", nargs="+", help="audio files (any length, sample rate, channel count)")
    p.add_argument("--model", required=True, help="export folder, or models:/NAME/VERSION, runs:/ID/pyfunc_model")
    p.add_argument("--out", help="timeline file (.csv or .json); several inputs get _<stem> suffixes")
    p.add_argument("--plot", help="timeline plot (.png)")
    p.add_argument("--ban", nargs="*", default=[], metavar="CLASS", help="classes never to predict")
    p.add_argument("--hop", type=float, default=None, metavar="SECONDS", help="window hop (default window/2)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", action="store_true", help="also print one JSON line per file")
    p.set_defaults(func=_cmd_predict)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
