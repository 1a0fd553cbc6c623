"""The installed ``ser`` command: the core's commands (:mod:`ser_pipeline.cli`) plus what needs the
orchestration shell — MLflow model references (``models:/NAME/VERSION``, ``models:/NAME@ALIAS``,
``runs:/ID/pyfunc_model``) resolved against the same tracking store the pipeline logs to, and
``ser check-config`` (a run config checked against a job before anything runs).

The core never reaches up here; this module hands it the resolver and the extra subcommand.
"""

import argparse
import difflib
import sys
from pathlib import Path

from ser_pipeline.cli import main as core_main


def resolve_registry_model(ref: str) -> Path:
    """A local export folder for an MLflow model reference, from the pipeline's tracking store."""
    from ser_pipeline.defs.mlflow_model import download_export
    from ser_pipeline.defs.resources import DataDirResource, MlflowResource

    # the same resource (and so the same default store) the pipeline logs to
    return download_export(ref, MlflowResource(data_dir=DataDirResource()).uri())


def config_problems(run_config: dict, job_name: str) -> list[str]:
    """One line per problem of ``run_config`` for job ``job_name``: the path, the key, and the
    closest known key for a typo (``did you mean 'epochs'?``). Empty when the config is valid."""
    import dagster as dg

    from ser_pipeline.definitions import defs

    job = defs.resolve_job_def(job_name)
    try:
        dg.validate_run_config(job, run_config)
        return []
    except dg.DagsterInvalidConfigError as exc:
        errors = exc.errors
    root = job.run_config_schema.config_type
    lines = []
    for err in errors:
        path = [str(e.field_name) if hasattr(e, "field_name") else str(e) for e in err.stack.entries]
        name = getattr(err.error_data, "field_name", None)
        if name is None:  # a wrong type, a missing required field ...
            lines.append(f"{'.'.join(path) or 'run config'}: {err.message}")
            continue
        known = _fields_at(root, path)
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else (f"; known: {', '.join(sorted(known))}" if known else "")
        lines.append(f"{'.'.join(path)}: unknown key {name!r}{hint}")
    return lines


def _fields_at(config_type, path: list[str]) -> list[str]:
    """The field names of the config type reached by following ``path`` from the root."""
    try:
        for step in path:
            config_type = config_type.fields[step].config_type
        return list(config_type.fields)
    except (AttributeError, KeyError):
        return []


def _cmd_check_config(args: argparse.Namespace) -> int:
    import yaml

    path = Path(args.config)
    try:
        run_config = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        print(f"ser check-config: {path}: {exc}", file=sys.stderr)
        return 1
    problems = config_problems(run_config, args.job)
    for line in problems:
        print(f"{path}: {line}", file=sys.stderr)
    if not problems:
        print(f"{path}: valid run config for {args.job}")
    return 1 if problems else 0


def _cmd_free_slots(args: argparse.Namespace) -> int:
    import dagster as dg

    from ser_pipeline.defs.run_guard import reap_dead_runs

    with dg.DagsterInstance.get() as instance:  # $DAGSTER_HOME
        failed = reap_dead_runs(instance, log=None)
    print(f"marked failed (process gone): {failed or 'none'}; pool slots of finished runs freed")
    return 0


def add_shell_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("free-slots", help="fail this host's runs whose process is gone and free the pool slots "
                                          "held by finished runs ($DAGSTER_HOME)")
    p.set_defaults(func=_cmd_free_slots)
    p = sub.add_parser("check-config", help="check a run config file against a job (typos, types) before a run")
    p.add_argument("config", help="YAML run config (e.g. configs/demo.yaml)")
    p.add_argument("--job", default="full_pipeline", help="job to check against (default: full_pipeline)")
    p.set_defaults(func=_cmd_check_config)


def main(argv: list[str] | None = None) -> int:
    return core_main(argv, resolve_reference=resolve_registry_model, extend=add_shell_commands)


if __name__ == "__main__":
    sys.exit(main())
