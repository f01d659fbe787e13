"""Writes finished runs to MLflow, one JSON line per run on stdin, in a process of its own.

Run as `python -P mlflow_writer.py` by metrics.py, never imported by the pipeline: MLflow's import
and store set-up (1.5-2 s) and its SQL per run then cost the pipeline's tasks nothing, a second
core does them, and a slow or dead tracking server can only delay this process, never a Luigi task.
After the first failure for a tracking URI, the rest of its runs are dropped with one warning.
It answers one line per record handled, so that metrics.py knows when everything is written.

metrics.py starts it as work starts and first sends a `warm` record (no run), so MLflow is
imported and the store opened while the stages run; a failed warm-up is reported with the first
run, as that run's failure. At the end of its input it leaves with os._exit: MLflow's interpreter
teardown (about 0.5 s) would only delay the command waiting for it, and every write is committed.
Runs go through MlflowClient alone: MLflow's store is MLflow's to write.
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


def main() -> None:
    stores, disabled, warm_failures = {}, set(), {}
    for line in sys.stdin:
        record = json.loads(line)
        uri = record["uri"]
        if record.get("warm"):
            try:
                store(record, stores)
            except Exception as exc:  # noqa: BLE001 - reported with the first run that needs the store
                warm_failures[uri] = exc
        elif uri in warm_failures:
            disable(record, warm_failures.pop(uri), disabled)
        elif uri not in disabled:
            write(record, stores, disabled)
        print("done", flush=True)
    sys.stderr.flush()
    os._exit(0)


class ClientStore:
    """One tracking URI and experiment, through MLflow's own client (imported only here)."""

    def __init__(self, record: dict):
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(tracking_uri=record["uri"])
        found = self.client.get_experiment_by_name(record["experiment"])
        self.experiment_id = found.experiment_id if found else self.client.create_experiment(record["experiment"])

    def log(self, record: dict) -> None:
        from mlflow.entities import Metric, Param

        run = self.client.create_run(self.experiment_id, run_name=record["run_name"], tags=record["tags"])
        now = int(time.time() * 1000)
        self.client.log_batch(
            run.info.run_id,
            metrics=[Metric(name, float(value), now, 0) for name, value in sorted(record["metrics"].items())],
            params=[Param(name, value) for name, value in record["params"].items()],
        )
        self.client.set_terminated(run.info.run_id, record["run_status"])


def store(record: dict, stores: dict) -> ClientStore:
    """The store for the record's URI and experiment, opened once."""
    key = (record["uri"], record["experiment"])
    if key not in stores:
        os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = record["http_timeout"]
        os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = record["http_retries"]
        stores[key] = ClientStore(record)
    return stores[key]


def write(record: dict, stores: dict, disabled: set) -> None:
    try:
        store(record, stores).log(record)
    except Exception as exc:  # noqa: BLE001 - MLflow must never fail the pipeline
        disable(record, exc, disabled)


def disable(record: dict, exc: Exception, disabled: set) -> None:
    disabled.add(record["uri"])
    print(f"WARNING: MLflow at {record['uri_shown']} is unavailable; runs from "
          f"{record['tags'].get('trade_date')} on are not recorded, the data is written regardless "
          f"({exc.__class__.__name__}: {mask_secrets(str(exc))[:300]})", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
