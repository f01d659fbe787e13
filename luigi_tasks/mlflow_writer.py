"""Writes finished runs to MLflow, one JSON line per run on stdin, in a process of its own.

Run as `python -P mlflow_writer.py` by metrics.py, never imported by the pipeline: a slow or dead
tracking server can only delay this process, never a Luigi task, and a second core does the work.
After the first failure for a tracking URI, the rest of its runs are dropped with one warning.
It answers one line per record handled, so that metrics.py knows when everything is written.

metrics.py starts it as work starts and first sends a `warm` record (no run), so the store is
opened while the stages run. A failed warm-up is reported with the first run, as that run's failure.

A nightly command waits for its run, so what this process costs before writing is the command's
cost: MLflow's import and its store set-up take 1.5-2.5 s, more than a one-day run itself. For
the default store, an sqlite file that exists at the schema this was checked against
(FAST_SCHEMA) and holds the experiment, a run is therefore written with sqlite3 in one
transaction, the rows MLflow's own create_run, log_batch and set_terminated write (the tests read
them back through MLflow). Any other store, an older or newer schema, or a first run that must
create the database or the experiment, goes through MlflowClient (and the runs after that first
one, once the new store is at FAST_SCHEMA, through sqlite3). At the end of its input it
leaves with os._exit: MLflow's interpreter teardown (about 0.5 s) would only delay the command
waiting for it, and every write is already committed.
"""
import json
import math
import os
import re
import sqlite3
import sys
import time
import uuid

FAST_SCHEMA = "dc11669786a5"  # MLflow 3.17's alembic head: the tables written below
FLOAT_MAX = sys.float_info.max  # MLflow stores +-inf as +-FLOAT_MAX and NaN as 0 with is_nan


def _redact(text: str) -> str:
    """As metrics.redact, for URLs: user:password@ never reaches a log."""
    return re.sub(r"(//[^/@\s:]+):[^/@\s]+@", r"\1:***@", text)


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


class FastStore:
    """An existing sqlite store at FAST_SCHEMA holding the experiment: runs written with sqlite3."""

    def __init__(self, connection: sqlite3.Connection, experiment_id: int, artifact_location: str):
        self.connection, self.experiment_id, self.artifact_location = connection, experiment_id, artifact_location

    @classmethod
    def open(cls, uri: str, experiment: str) -> "FastStore | None":
        path = uri[len("sqlite:///"):] if uri.startswith("sqlite:///") else None
        if not path or not os.path.isfile(path):
            return None
        connection = sqlite3.connect(path, timeout=30)
        try:
            version = connection.execute("SELECT version_num FROM alembic_version").fetchall()
            found = connection.execute("SELECT experiment_id, artifact_location FROM experiments "
                                       "WHERE name = ? AND lifecycle_stage = 'active'", (experiment,)).fetchone()
        except sqlite3.Error:
            version, found = None, None
        if version != [(FAST_SCHEMA,)] or found is None:
            connection.close()
            return None
        return cls(connection, *found)

    def log(self, record: dict) -> None:
        run_id, now = uuid.uuid4().hex, int(time.time() * 1000)
        tags = {**record["tags"], "mlflow.runName": record["run_name"]}
        metrics = [(name, *_metric_value(float(value)), now, run_id) for name, value in sorted(record["metrics"].items())]
        with self.connection:  # one transaction: the run appears whole or not at all
            self.connection.execute(
                "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, "
                "start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id) "
                "VALUES (?, ?, 'UNKNOWN', '', '', 'unknown', ?, ?, ?, '', 'active', ?, ?)",
                (run_id, record["run_name"], record["run_status"], now, now,
                 f"{self.artifact_location}/{run_id}/artifacts", self.experiment_id))
            self.connection.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)",
                                        [(key, value, run_id) for key, value in tags.items()])
            self.connection.executemany("INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)",
                                        [(key, value, run_id) for key, value in record["params"].items()])
            self.connection.executemany("INSERT INTO metrics (key, value, is_nan, timestamp, run_uuid, step) "
                                        "VALUES (?, ?, ?, ?, ?, 0)", metrics)
            self.connection.executemany("INSERT INTO latest_metrics (key, value, is_nan, timestamp, run_uuid, step) "
                                        "VALUES (?, ?, ?, ?, ?, 0)", metrics)


def _metric_value(value: float) -> tuple[float, int]:
    if math.isnan(value):
        return 0.0, 1
    return max(-FLOAT_MAX, min(FLOAT_MAX, value)), 0


class ClientStore:
    """Any store, through MLflow's own client (imported only here)."""

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


def store(record: dict, stores: dict):
    """The store for the record's URI and experiment, opened once."""
    key = (record["uri"], record["experiment"])
    if key not in stores:
        os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = record["http_timeout"]
        os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = record["http_retries"]
        fast = FastStore.open(*key)
        if fast is None:
            client = ClientStore(record)  # creates a new sqlite store, and the experiment, at MLflow's schema
            fast = FastStore.open(*key)
        stores[key] = fast or client
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
          f"({exc.__class__.__name__}: {_redact(str(exc))[:300]})", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
