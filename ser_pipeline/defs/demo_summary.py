"""Print where the demo's results are: the MLflow run, its Table 2 metrics, and how to look."""

import os
import sys

from ser_pipeline.defs.evaluation import EVAL_SETS
from ser_pipeline.defs.resources import DataDirResource, MlflowResource


def main() -> int:
    ml = MlflowResource(data_dir=DataDirResource())
    client = ml.client()
    exp = client.get_experiment_by_name(ml.experiment_name)
    runs = client.search_runs([exp.experiment_id], order_by=["attributes.start_time DESC"], max_results=1) if exp else []
    if not runs:
        print(f"no MLflow run found in {ml.uri()}", file=sys.stderr)
        return 1
    run = runs[0]
    m = run.data.metrics
    print("\n=== ser_pipeline demo: results ===")
    print(f"MLflow run id:      {run.info.run_id}")
    print(f"MLflow tracking URI: {ml.uri()}")
    print(f"Dagster run id:     {run.data.tags.get('dagster_run_id')}")
    print(f"\nmicro F1 (%), logit-adjusted as in the paper (raw = without adjustment)")
    print(f"{'set':12s} {'trained':>8s} {'random head':>12s} {'trained raw':>12s} {'random raw':>11s}")
    for s in EVAL_SETS:
        if f"eval/{s}/micro_f1" in m:
            print(f"{s:12s} {100 * m[f'eval/{s}/micro_f1']:8.2f} {100 * m[f'eval/{s}/random_head/micro_f1']:12.2f} "
                  f"{100 * m[f'eval/{s}/raw/micro_f1']:12.2f} {100 * m[f'eval/{s}/random_head/raw/micro_f1']:11.2f}")
    if "temporal/frame_accuracy" in m:
        print(f"\ntemporal shifts: frame accuracy {100 * m['temporal/frame_accuracy']:.2f} % "
              f"(random head {100 * m['temporal/random_head/frame_accuracy']:.2f} %), change-point F1 "
              f"{100 * m['temporal/cp_f1']:.2f} % (random head {100 * m['temporal/random_head/cp_f1']:.2f} %)")
    try:
        table = client.download_artifacts(run.info.run_id, "report/table2.md")
        print("\nTable 2 (MLflow artifact report/table2.md):\n" + open(table).read())
    except Exception as exc:  # the report asset may not have run
        print(f"(no report artifact: {exc})")
    home = os.environ.get("DAGSTER_HOME", "dagster_home")
    print("\nLook at it:")
    print(f"  DAGSTER_HOME={home} .venv/bin/dagster dev -w workspace.yaml -h 127.0.0.1   # http://127.0.0.1:3000")
    print(f"  .venv/bin/mlflow ui --backend-store-uri {ml.uri()} --host 127.0.0.1     # http://127.0.0.1:5000")
    return 0


if __name__ == "__main__":
    sys.exit(main())
