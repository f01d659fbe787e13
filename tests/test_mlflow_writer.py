"""The writer process: a warm-up, then every run through MLflow's own client; read back through MLflow."""
import json
import math
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


def test_the_writer_warms_up_then_writes_every_run_through_mlflow(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    completed = write_runs(uri, 3)  # a new store: MLflow creates it during the warm-up
    assert completed.stdout.splitlines() == ["done"] * 4 and "WARNING" not in completed.stderr
    every = runs(uri)
    assert len(every) == 3 and len({run.info.run_id for run in every}) == 3
    assert [described(run) for run in every] == [described(every[0])] * 3
    (name, status, stage, tags, params, metrics, *_) = described(every[0])
    assert (name, status, stage, params) == ("bhavcopy-etl-2025-06-18", "FAILED", "active", RECORD["params"])
    assert tags["trade_date"] == "2025-06-18"
    assert metrics["raw_rows_parsed"] == 2993 and metrics["odd"] == "nan" and metrics["huge"] == sys.float_info.max


def test_a_warm_up_that_fails_is_reported_once_with_the_first_run(tmp_path):
    (tmp_path / "a-file").write_text("")
    uri = f"sqlite:///{tmp_path / 'a-file' / 'mlflow.db'}"  # under a file: no store can be made there
    completed = write_runs(uri, 2)
    assert completed.stdout.splitlines() == ["done"] * 3
    (warning,) = [line for line in completed.stderr.splitlines() if line.startswith("WARNING")]
    assert "runs from 2025-06-18 on are not recorded, the data is written regardless" in warning
