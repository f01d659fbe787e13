"""MLflow tracking from Luigi's events, against a real MLflow store."""
import socket
import subprocess
import sys
import threading
import time
from datetime import date

import pytest
from luigi.execution_summary import LuigiStatusCode
from mlflow.tracking import MlflowClient

from luigi_tasks import layout, metrics
from luigi_tasks.tasks import BhavcopyETL

UDIFF_DAY = date(2025, 6, 18)
STAGE_METRICS = {
    "scrape_duration_seconds", "parse_duration_seconds", "raw_rows_parsed", "normalize_duration_seconds",
    "normalized_rows", "filtered_rows", "write_duration_seconds", "parquet_size_mb", "rows_written",
}


@pytest.fixture
def experiment(request, luigi_config):
    name = f"test-{request.node.name}-{time.time_ns()}"
    luigi_config("tracking", "experiment", name)
    return name


def runs_of(uri, experiment, day):
    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return []
    return client.search_runs([found.experiment_id], filter_string=f"tags.trade_date = '{day.isoformat()}'",
                              order_by=["attributes.start_time DESC"])


def lake_only(day):
    return BhavcopyETL(date=day, load_to_clickhouse=False)


def test_one_run_per_date_with_params_and_stage_metrics(data_dir, nse_server, run_tasks, mlflow_store, experiment):
    assert run_tasks(lake_only(UDIFF_DAY)).status == LuigiStatusCode.SUCCESS
    (run,) = runs_of(mlflow_store, experiment, UDIFF_DAY)
    assert run.info.run_name == "bhavcopy-etl-2025-06-18"
    assert run.info.status == "FINISHED"
    assert run.data.params == {"trade_date": "2025-06-18", "load_to_clickhouse": "false",
                               "clickhouse_table": "cm_bhavcopy", "datasets": "cm", "status": "success"}
    assert STAGE_METRICS <= set(run.data.metrics)
    assert run.data.metrics["raw_rows_parsed"] == run.data.metrics["rows_written"] == 2993
    assert run.data.metrics["filtered_rows"] == 0
    assert 0 < run.data.metrics["parquet_size_mb"] < 1
    assert all(run.data.metrics[name] > 0 for name in STAGE_METRICS if name.endswith("_seconds"))


def test_failed_date_records_status_and_error(data_dir, nse_server, run_tasks, mlflow_store, experiment):
    day = date(2025, 6, 20)
    assert run_tasks(lake_only(day)).status == LuigiStatusCode.FAILED
    (run,) = runs_of(mlflow_store, experiment, day)
    assert run.info.status == "FAILED"
    assert run.data.params["status"] == "failed"
    assert run.data.params["error"].startswith("DownloadBhavcopy: no bhavcopy published for 2025-06-20 at http://127.0.0.1")


def test_noop_rerun_opens_no_run_and_new_work_opens_a_newer_one(data_dir, nse_server, run_tasks, mlflow_store, experiment):
    assert run_tasks(lake_only(UDIFF_DAY)).status == LuigiStatusCode.SUCCESS
    assert run_tasks(lake_only(UDIFF_DAY)).status == LuigiStatusCode.SUCCESS
    assert len(runs_of(mlflow_store, experiment, UDIFF_DAY)) == 1

    layout.lake_path(data_dir, "cm", UDIFF_DAY).unlink()
    assert run_tasks(lake_only(UDIFF_DAY)).status == LuigiStatusCode.SUCCESS
    newest, oldest = runs_of(mlflow_store, experiment, UDIFF_DAY)
    assert newest.info.start_time >= oldest.info.start_time
    assert set(newest.data.metrics) == {"write_duration_seconds", "rows_written", "parquet_size_mb"}


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def timed_run(run_tasks, day):
    started = time.monotonic()
    result = run_tasks(lake_only(day))
    return result, time.monotonic() - started


def test_unreachable_tracking_server_costs_seconds_not_minutes(data_dir, nse_server, run_tasks, monkeypatch, experiment):
    _, normal = timed_run(run_tasks, date(2022, 12, 1))
    uri = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    result, unreachable = timed_run(run_tasks, UDIFF_DAY)
    assert result.status == LuigiStatusCode.SUCCESS
    assert layout.lake_path(data_dir, "cm", UDIFF_DAY).exists()
    assert unreachable < normal + 5, (normal, unreachable)


def test_a_tracking_server_that_never_answers_is_bounded_by_the_timeout(data_dir, nse_server, run_tasks, monkeypatch,
                                                                       experiment):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted = []
    threading.Thread(target=lambda: [accepted.append(listener.accept()) for _ in range(4)], daemon=True).start()
    uri = f"http://127.0.0.1:{listener.getsockname()[1]}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "1")
    try:
        result, seconds = timed_run(run_tasks, UDIFF_DAY)
    finally:
        listener.close()
    assert result.status == LuigiStatusCode.SUCCESS
    assert layout.lake_path(data_dir, "cm", UDIFF_DAY).exists()
    assert accepted, "the pipeline never tried the tracking server"
    assert seconds < 10


def test_tracking_can_be_turned_off(data_dir, nse_server, run_tasks, mlflow_store, experiment, monkeypatch):
    monkeypatch.setenv("MLFLOW_ENABLED", "false")
    assert run_tasks(lake_only(UDIFF_DAY)).status == LuigiStatusCode.SUCCESS
    assert runs_of(mlflow_store, experiment, UDIFF_DAY) == []


def test_default_store_is_sqlite_under_data_dir(data_dir, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert metrics.tracking_uri() == f"sqlite:///{data_dir}/mlflow.db"


def test_redact_masks_the_clickhouse_password_and_url_credentials(monkeypatch):
    monkeypatch.setenv("CLICKHOUSE_PASSWORD", "s3cret-pw")
    text = metrics.redact("auth failed for default:s3cret-pw at http://bob:hunter2@host:5000/x")
    assert "s3cret-pw" not in text and "hunter2" not in text
    assert "http://bob:***@host:5000/x" in text


def test_tasks_do_not_import_mlflow():
    code = "import sys, luigi_tasks.tasks, luigi_tasks.formats; assert 'mlflow' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
