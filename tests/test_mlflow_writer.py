"""The writer process's two ways into MLflow must leave the same run; read back through MLflow itself."""
import json
import math
import sqlite3
import subprocess
import sys

from mlflow.tracking import MlflowClient

from luigi_tasks import mlflow_writer

RECORD = {
    "uri_shown": "", "experiment": "writer-test", "http_timeout": "5", "http_retries": "0",
    "run_name": "bhavcopy-etl-2025-06-18", "tags": {"trade_date": "2025-06-18"},
    "params": {"trade_date": "2025-06-18", "status": "failed", "error": "ParseBhavcopy: bad header"},
    "metrics": {"scrape_duration_seconds": 0.0123, "raw_rows_parsed": 2993, "odd": float("nan"),
                "huge": float("inf")},
    "run_status": "FAILED",
}


def write_runs(uri: str, count: int) -> subprocess.CompletedProcess:
    """The writer as metrics.py runs it: a warm-up, then `count` runs, one JSON line each."""
    lines = [{**RECORD, "uri": uri, "warm": True}] + [{**RECORD, "uri": uri}] * count
    return subprocess.run([sys.executable, "-P", mlflow_writer.__file__], input="".join(json.dumps(r) + "\n" for r in lines),
                          capture_output=True, text=True, timeout=120, check=True)


def runs(uri: str) -> list:
    client = MlflowClient(tracking_uri=uri)
    return client.search_runs([client.get_experiment_by_name("writer-test").experiment_id])


def described(run) -> tuple:
    metrics = {k: ("nan" if math.isnan(v) else v) for k, v in run.data.metrics.items()}
    return (run.info.run_name, run.info.status, run.info.lifecycle_stage, run.data.tags, run.data.params, metrics,
            run.info.artifact_uri.endswith(f"/{run.info.run_id}/artifacts"), run.info.end_time >= run.info.start_time)


def test_the_sqlite_fast_path_writes_what_mlflow_writes(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert mlflow_writer.FastStore.open(uri, "writer-test") is None  # no database yet: MLflow creates it
    mlflow_writer.ClientStore({**RECORD, "uri": uri}).log({**RECORD, "uri": uri})  # MLflow's own client
    (by_client,) = runs(uri)
    assert mlflow_writer.FastStore.open(uri, "writer-test") is not None, "MLflow's new store is not at FAST_SCHEMA"
    completed = write_runs(uri, 2)  # the writer finds the store and the experiment: the fast path
    assert completed.stdout.splitlines() == ["done"] * 3
    every = runs(uri)
    assert len(every) == 3 and len({run.info.run_id for run in every}) == 3
    for run in every:
        assert described(run) == described(by_client)
    assert by_client.data.metrics["huge"] == sys.float_info.max and math.isnan(by_client.data.metrics["odd"])
    history = MlflowClient(tracking_uri=uri).get_metric_history(every[0].info.run_id, "raw_rows_parsed")
    assert [(m.value, m.step) for m in history] == [(2993, 0)]


def test_a_new_store_gets_every_run_the_same(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    completed = write_runs(uri, 3)
    assert completed.stdout.splitlines() == ["done"] * 4 and "WARNING" not in completed.stderr
    assert [described(run) for run in runs(uri)] == [described(runs(uri)[0])] * 3


def test_a_store_at_another_schema_goes_through_mlflow(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    write_runs(uri, 1)
    with sqlite3.connect(tmp_path / "mlflow.db") as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'someotherhead'")
    assert mlflow_writer.FastStore.open(uri, "writer-test") is None
    assert mlflow_writer.FastStore.open(f"sqlite:///{tmp_path / 'none.db'}", "writer-test") is None
    assert mlflow_writer.FastStore.open("http://127.0.0.1:1", "writer-test") is None
