"""The ``ser`` command: list corpora, generate synthetic corpora, run predictions."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

DEMO_CORPORA = ("ravdess", "crema_d", "manifest", "emodb")


def _cmd_corpora(args: argparse.Namespace) -> int:
    from ser_pipeline.corpora import available, get_spec

    if args.markdown:
        from ser_pipeline.corpora.docs import registry_markdown

        sys.stdout.write(registry_markdown())
        return 0
    from ser_pipeline import settings

    try:
        root = settings.corpora_root(args.root, "--root")
    except ValueError as exc:
        raise SystemExit(f"ser corpora: {exc}") from None
    rows = [(name, get_spec(name)) for name in available()]
    present = {name: (root / name).is_dir() for name, _ in rows}
    header = ("corpus", "role", "languages", "present", "title")
    table = [(name, s.role, ",".join(s.languages) or "-", "yes" if present[name] else "-", s.title)
             for name, s in rows]
    widths = [max(len(r[i]) for r in [header, *table]) for i in range(4)]
    print(f"corpora under {root} ({sum(present.values())} of {len(rows)} present)")
    for r in [header, *table]:
        print("  ".join(v.ljust(w) for v, w in zip(r[:4], widths, strict=True)) + "  " + r[4])
    return 0


def _cmd_labels(args: argparse.Namespace) -> int:
    from ser_pipeline.labels.docs import labels_markdown

    sys.stdout.write(labels_markdown())
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


MLFLOW_SCHEMES = ("models:/", "runs:/", "mlflow-artifacts:")
#: what ``ser predict`` uses without ``--model``: the registered model's best version so far
DEFAULT_MODEL = "models:/ser_emotion_model@champion"

#: resolves an MLflow model reference to a local export folder (the orchestration shell's job)
Resolver = Callable[[str], Path]


def resolve_model(ref: str, resolve_reference: Resolver | None = None) -> Path:
    """A local export folder or release file for a path, or an export folder for an MLflow ``models:/``/``runs:/`` reference through
    ``resolve_reference`` (the installed ``ser`` command passes the MLflow one; the core has none).

    Raises:
        SystemExit: one line naming the reference and the problem.
    """
    if ref.startswith(MLFLOW_SCHEMES):
        if resolve_reference is None:
            raise SystemExit(f"ser predict: {ref} is an MLflow model reference; this entry point has no MLflow "
                             "resolver (run the installed `ser` command, or pass an export folder)")
        try:
            return resolve_reference(ref)
        except Exception as exc:  # the registry's own errors: say which reference failed and why
            raise SystemExit(f"ser predict: cannot resolve {ref}: {exc}") from None
    from ser_pipeline.model.release import RELEASE_SUFFIXES

    path = Path(ref)
    if not path.exists():
        raise SystemExit(f"ser predict: model {path} does not exist")
    if path.is_file() and path.suffix.lower() in RELEASE_SUFFIXES:
        return path  # a released checkpoint (v1 model_clean.pt or v2 .ckpt), read as it is
    if not (path / "ser_model.json").exists():
        raise SystemExit(f"ser predict: {path} is neither a model export (no ser_model.json) nor a released "
                         f"checkpoint ({', '.join(RELEASE_SUFFIXES)})")
    return path


def _cmd_predict(args: argparse.Namespace, resolve_reference: Resolver | None = None) -> int:
    import json as _json

    from ser_pipeline.audio.io import AudioDecodeError
    from ser_pipeline.emotions import CLASSES
    from ser_pipeline.inference import plot_timeline, predict_file, write_timeline
    from ser_pipeline.model.export import load_model

    ref = args.model or DEFAULT_MODEL
    export = resolve_model(ref, resolve_reference)
    try:
        model, meta = load_model(export, device=args.device)
    except (ValueError, FileNotFoundError) as exc:
        raise SystemExit(f"ser predict: {exc}") from None
    print(f"model: {ref}" + (f" ({export})" if str(export) != ref else "") +
          f"; window {model.window_s:g} s, {model.n_mels} mel bins", file=sys.stderr)
    many, failed = len(args.audio) > 1, 0
    for audio in args.audio:
        if not Path(audio).is_file():
            print(f"ser predict: {audio}: no such audio file", file=sys.stderr)
            failed += 1
            continue
        try:
            pred = predict_file(model, meta, audio, hop_s=args.hop, ban=args.ban, fast=args.fast)
        except AudioDecodeError as exc:
            print(f"ser predict: {audio}: {exc}", file=sys.stderr)
            failed += 1
            continue
        probs = ", ".join(f"{c} {p:.2f}" for c, p in sorted(zip(CLASSES, pred.clip_probs), key=lambda x: -x[1])[:3])
        print(f"{audio}: {pred.top}  ({probs}; {pred.duration_s:.1f} s, {len(pred.frame_probs)} frames at 50 Hz)")
        stem = Path(audio).stem
        if args.out:
            out = Path(args.out)
            written = write_timeline(pred, out.with_name(f"{out.stem}_{stem}{out.suffix}") if many else out)
            print(f"  timeline: {written}", file=sys.stderr)
        if args.plot:
            png = Path(args.plot)
            written = plot_timeline(pred, png.with_name(f"{png.stem}_{stem}{png.suffix}") if many else png)
            print(f"  plot: {written}", file=sys.stderr)
        if args.json:
            print(_json.dumps({"path": audio, "top": pred.top,
                               "clip_probs": dict(zip(CLASSES, map(float, pred.clip_probs)))}))
    return 1 if failed else 0


def _cmd_export_release(args: argparse.Namespace) -> int:
    import numpy as np

    from ser_pipeline.emotions import RELEASED_PRIOR
    from ser_pipeline.model.export import load_model
    from ser_pipeline.model.release import write_release

    try:
        model, meta = load_model(args.export)
        prior = np.asarray(meta.get("prior", RELEASED_PRIOR), dtype=np.float64)
        out = write_release(model, prior, args.out)
    except (ValueError, FileNotFoundError) as exc:
        raise SystemExit(f"ser export-release: {exc}") from None
    print(f"wrote {out} (release v1 layout: encoder.*, head.weight, head.bias, logit_scaling = prior)")
    return 0


def _cmd_convert_whisper(args: argparse.Namespace) -> int:
    from ser_pipeline.model.convert import ConversionError, convert_whisper

    try:
        r = convert_whisper(args.src, args.out)
    except ConversionError as exc:
        raise SystemExit(f"ser convert-whisper: {exc}") from exc
    c = r.config
    print(f"wrote WhisperModel (d_model {c.d_model}, {c.encoder_layers} encoder layers, {c.num_mel_bins} mels) "
          f"from {r.source_format} {args.src} to {r.out_dir}: use it as model.pretrained_dir")
    return 0


def _cmd_train_node_command(args: argparse.Namespace) -> int:
    import shlex

    from ser_pipeline.training.config import load_config_file
    from ser_pipeline.training.launch import Launch, node_command

    from ser_pipeline.storage import is_url

    # a spec in a bucket keeps its URL (every node reads it from there)
    spec = args.spec if is_url(args.spec) else Path(args.spec).expanduser().resolve()
    try:
        launch = Launch.from_dict(load_config_file(spec).get("launch"))
        launch.validate(prefix=f"{spec}: launch.")
    except (OSError, ValueError, TypeError) as exc:
        raise SystemExit(f"ser train-node-command: {exc}") from None
    # same spec path or URL: every node must see the spec (and the tables it names) there
    print(shlex.join(node_command(str(spec), launch, python=args.python)))
    return 0


#: adds subcommands to the parser (the orchestration shell's own, e.g. ``check-config``)
ParserExtension = Callable[[argparse._SubParsersAction], None]


def build_parser(extend: ParserExtension | None = None) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="ser", description="ser_pipeline command line")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("corpora", help="list the corpus registry")
    p.add_argument("--markdown", action="store_true", help="print docs/corpora.md")
    p.add_argument("--root", default=None, help="corpus root to look in (default: $SER_CORPORA_ROOT, else ./corpora)")
    p.set_defaults(func=_cmd_corpora)
    p = sub.add_parser("labels", help="the label decisions (the 8 classes, smoothing, scored classes) as docs/labels.md")
    p.add_argument("--markdown", action="store_true", help="(the only format) print docs/labels.md")
    p.set_defaults(func=_cmd_labels)
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
    p.add_argument("--model", default=None,
                   help=f"export folder, a released checkpoint (.pt/.ckpt), or models:/NAME/VERSION, models:/NAME@ALIAS, runs:/ID/pyfunc_model "
                        f"(default: {DEFAULT_MODEL})")
    p.add_argument("--out", help="timeline file (.csv or .json); several inputs get _<stem> suffixes")
    p.add_argument("--plot", help="timeline plot (.png)")
    p.add_argument("--ban", nargs="*", default=[], metavar="CLASS", help="classes never to predict")
    p.add_argument("--hop", type=float, default=None, metavar="SECONDS", help="window hop (default window/2)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--fast", action="store_true",
                   help="bf16 encoder: faster on a CPU with bf16 support; probabilities move by bf16 rounding "
                        "(README, Command line)")
    p.add_argument("--json", action="store_true", help="also print one JSON line per file")
    p.set_defaults(func=_cmd_predict)
    p = sub.add_parser("export-release", help="write an export in the paper's release (v1) checkpoint layout")
    p.add_argument("export", help="export folder (ser_model.json + model.safetensors), 30 s window")
    p.add_argument("--out", required=True, help="output .pt file")
    p.set_defaults(func=_cmd_export_release)
    p = sub.add_parser("train-node-command",
                       help="the command another node runs to join a multi-node training run (spec's launch:)")
    p.add_argument("spec", help="the run's spec.yaml (data/models/<run id>/spec.yaml), readable from this node")
    p.add_argument("--python", default="python", help="the Python of this node's environment (default: python)")
    p.set_defaults(func=_cmd_train_node_command)
    if extend is not None:
        extend(sub)
    p = sub.add_parser("convert-whisper", help="OpenAI .pt or CTranslate2 folder -> save_pretrained folder")
    p.add_argument("src", help="OpenAI whisper checkpoint (base.pt, medium.pt) or faster-whisper folder (model.bin)")
    p.add_argument("--out", required=True, help="folder to write (config.json + model.safetensors, fp32)")
    p.set_defaults(func=_cmd_convert_whisper)
    return ap


def main(argv: list[str] | None = None, *, resolve_reference: Resolver | None = None,
         extend: ParserExtension | None = None) -> int:
    """Run the ``ser`` command; ``resolve_reference`` turns MLflow model references into export
    folders and ``extend`` adds subcommands (the orchestration shell's ``ser_pipeline.defs.cli``
    passes both)."""
    args = build_parser(extend).parse_args(argv)
    if args.func is _cmd_predict:
        return _cmd_predict(args, resolve_reference)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
