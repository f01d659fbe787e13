"""Writes finished runs to MLflow, one JSON line per run on stdin, in a process of its own.

Run as `python -P mlflow_writer.py` by metrics.py, never imported by the pipeline: MLflow's import
(about 1.5 s) and its ~45 ms of SQL per run then cost the pipeline nothing, a second core does
them, and a slow or dead tracking server can only delay this process, never a Luigi task.
After the first failure for a tracking URI, the rest of its runs are dropped with one warning.
It answers one line per record handled, so that metrics.py knows when everything is written.
"""
import importlib.util
import json
import os
import sys
import time
from pathlib import Path


def _masking():
    """masking.py beside this script, loaded by path: importing the package would load Luigi and
    the tasks, and -P keeps the package folder off sys.path (its modules would shadow MLflow's)."""
    spec = importlib.util.spec_from_file_location("masking", Path(__file__).with_name("masking.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


mask_secrets = _masking().mask_secrets


def main() -> int:
    clients, experiments, disabled = {}, {}, set()
    for line in sys.stdin:
        record = json.loads(line)
        uri = record["uri"]
        if uri not in disabled:
            write(record, clients, experiments, disabled)
        print("done", flush=True)
    return 0


def write(record: dict, clients: dict, experiments: dict, disabled: set) -> None:
    uri = record["uri"]
    os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = record["http_timeout"]
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = record["http_retries"]
    try:
        from mlflow.entities import Metric, Param
        from mlflow.tracking import MlflowClient

        client = clients.get(uri) or clients.setdefault(uri, MlflowClient(tracking_uri=uri))
        key = (uri, record["experiment"])
        if key not in experiments:
            found = client.get_experiment_by_name(record["experiment"])
            experiments[key] = found.experiment_id if found else client.create_experiment(record["experiment"])
        run = client.create_run(experiments[key], run_name=record["run_name"], tags=record["tags"])
        now = int(time.time() * 1000)
        client.log_batch(
            run.info.run_id,
            metrics=[Metric(name, float(value), now, 0) for name, value in sorted(record["metrics"].items())],
            params=[Param(name, value) for name, value in record["params"].items()],
        )
        client.set_terminated(run.info.run_id, record["run_status"])
    except Exception as exc:  # noqa: BLE001 - MLflow must never fail the pipeline
        disabled.add(uri)
        print(f"WARNING: MLflow at {record['uri_shown']} is unavailable; runs from "
              f"{record['tags'].get('trade_date')} on are not recorded, the data is written regardless "
              f"({exc.__class__.__name__}: {mask_secrets(str(exc))[:300]})", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
