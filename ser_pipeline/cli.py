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
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
