"""MLflow tracking from Luigi's events, against a real MLflow store."""
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from luigi.execution_summary import LuigiStatusCode
from mlflow.tracking import MlflowClient

from bench import mirror
from luigi_tasks import layout, metrics, stages
from luigi_tasks.routes import UDIFF_FROM
from luigi_tasks.tasks import BhavcopyETL

from tests.nse_server import NSEServer
from tests.support import free_port, running_mlflow_writer

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

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


# ---- parallel workers: Luigi forks a process per task, and each date still gets all its metrics ----

LOADED_METRICS = STAGE_METRICS | {"price_outside_range_rows", "load_duration_seconds", "rows_loaded"}
CHILD_CONFIG = """\
[worker]
keep_alive = false
# pings every tenth of a second: a batch's worker in a forked process must be able to ping
ping_interval = 0.1
[BhavcopyETL]
datasets = ["cm"]
[nse]
http_retries = 0
api_min_interval = 0
"""


def child_env(folder, server, uri, **settings) -> dict:
    """The environment of a `luigi` command as an operator runs it: its own luigi.cfg, DATA_DIR and
    chdb folder under `folder`, and nothing of this test process's settings but `settings`."""
    folder.mkdir()
    (folder / "luigi.cfg").write_text(CHILD_CONFIG)
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("CLICKHOUSE_", "MLFLOW_", "CHDB_", "LUIGI_", "NSE_")) and name != "DATA_DIR"}
    env.update(DATA_DIR=str(folder / "data"), NSE_BASE_URL=server.url, NSE_WEB_URL=server.url,
               MLFLOW_TRACKING_URI=uri, LUIGI_CONFIG_PATH=str(folder / "luigi.cfg"), **settings)
    return env


def backfill_in_a_child(folder, server, uri, workers: int, days, one_task: bool = False):
    """`luigi RangeDaily` over the days (or, `one_task`, BhavcopyETL for the one day), as an operator
    runs it, with its own DATA_DIR and chdb folder."""
    env = child_env(folder, server, uri)
    experiment = f"workers-{workers}-{time.time_ns()}"
    completed = subprocess.run(
        [sys.executable, "-m", "luigi", "--module", "luigi_tasks",
         *(["BhavcopyETL", "--date", days[0].isoformat()] if one_task else
           ["RangeDaily", "--of", "BhavcopyETL", "--start", days[0].isoformat(),
            "--stop", (days[-1] + timedelta(days=1)).isoformat()]),
         "--workers", str(workers), "--tracking-experiment", experiment, "--local-scheduler"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert stages.complete_dates(folder / "data", "cm", True) == set(days)
    return experiment


def recorded(uri, experiment, days) -> dict:
    """Per date: how many runs, and the newest run's status and metrics."""
    found = {}
    for day in days:
        runs = runs_of(uri, experiment, day)
        found[day] = (len(runs), runs[0].info.status if runs else None, runs[0].data.metrics if runs else {})
    return found


def test_one_day_run_alone_with_two_workers_records_its_run(tmp_path, mlflow_store):
    """The day's run is a forked worker that schedules its stages itself: its run still reaches MLflow."""
    days = mirror.trading_days(2)[-1:]
    with NSEServer(mirror.build(days)) as server:
        found = recorded(mlflow_store, backfill_in_a_child(tmp_path / "two", server, mlflow_store, 2, days, True), days)
    ((count, status, values),) = found.values()
    assert (count, status, set(values)) == (1, "FINISHED", LOADED_METRICS)
    assert values["raw_rows_parsed"] == values["rows_written"] == values["rows_loaded"] == 2993


def test_parallel_workers_record_every_date_with_all_its_metrics(tmp_path, mlflow_store):
    days = mirror.trading_days(6)  # three legacy days, then three UDiFF days
    with NSEServer(mirror.build(days)) as server:
        one = recorded(mlflow_store, backfill_in_a_child(tmp_path / "one", server, mlflow_store, 1, days), days)
        two = recorded(mlflow_store, backfill_in_a_child(tmp_path / "two", server, mlflow_store, 2, days), days)
    for found in (one, two):
        for day, (count, status, values) in found.items():
            assert (count, status, set(values)) == (1, "FINISHED", LOADED_METRICS), day
            rows = 2993 if day >= UDIFF_FROM else 2339
            assert values["raw_rows_parsed"] == values["rows_written"] == values["rows_loaded"] == rows, day
    assert sum(len(values) for _, _, values in two.values()) == sum(len(values) for _, _, values in one.values())
    counts = {name for name in LOADED_METRICS if not name.endswith(("_seconds", "_mb"))}
    assert {day: {n: v[n] for n in counts} for day, (_, _, v) in two.items()} == \
           {day: {n: v[n] for n in counts} for day, (_, _, v) in one.items()}


# ---- the resident writer (`python -m luigi_tasks mlflow-writer`): a run that finds it starts no child ----

def one_day_in_a_child(folder, server, uri, day, experiment, writer_socket, *options, **settings) -> subprocess.Popen:
    """`luigi BhavcopyETL` for the day's lake, its log in `folder`/run.log, with `[tracking] writer_socket` set."""
    env = child_env(folder, server, uri, MLFLOW_WRITER_SOCKET=str(writer_socket), **settings)
    with open(folder / "run.log", "w") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "luigi", "--module", "luigi_tasks", "BhavcopyETL", "--date", day.isoformat(),
             "--load-to-clickhouse", "false", "--tracking-experiment", experiment, "--local-scheduler", *options],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)


def finished(run: subprocess.Popen, folder) -> str:
    """The run's log, once it has exited 0."""
    assert run.wait(timeout=300) == 0, (folder / "run.log").read_text()[-3000:]
    return (folder / "run.log").read_text()


def lake_rows(folder, day) -> int:
    return pq.read_metadata(layout.lake_path(folder / "data", "cm", day)).num_rows


def test_a_run_hands_its_mlflow_run_to_the_resident_writer_unless_told_not_to(tmp_path, mlflow_store):
    (day,) = mirror.trading_days(2)[-1:]
    experiment, path = f"resident-{time.time_ns()}", tmp_path / "writer.sock"
    with NSEServer(mirror.build([day])) as server, running_mlflow_writer(path) as writer:
        log = finished(one_day_in_a_child(tmp_path / "run", server, mlflow_store, day, experiment, path), tmp_path / "run")
        off = finished(one_day_in_a_child(tmp_path / "off", server, mlflow_store, day, experiment, path,
                                          MLFLOW_RESIDENT_WRITER="false"), tmp_path / "off")
        assert writer.poll() is None
    ((count, status, values),) = recorded(mlflow_store, experiment, [day]).values()
    assert (count, status, values["rows_written"]) == (2, "FINISHED", 2993) and STAGE_METRICS <= set(values)
    assert f"MLflow runs are written by the resident writer at {path}" in log
    assert "written by a child process" not in log
    assert "MLflow runs are written by a child process" in off and "resident" not in off
    served = [line for line in Path(f"{path}.log").read_text().splitlines() if "records" in line]
    assert served == ["mlflow-writer: 2 records from one connection, 1 runs written"]  # the warm-up and the run


def test_a_stale_writer_socket_falls_back_to_a_child_quietly(tmp_path, mlflow_store):
    (day,) = mirror.trading_days(2)[-1:]
    experiment, path = f"stale-{time.time_ns()}", tmp_path / "writer.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as left:  # bound, never listened: as a killed writer leaves it
        left.bind(str(path))
    with NSEServer(mirror.build([day])) as server:
        log = finished(one_day_in_a_child(tmp_path / "run", server, mlflow_store, day, experiment, path,
                                          "--log-level", "DEBUG"), tmp_path / "run")
    ((count, status, values),) = recorded(mlflow_store, experiment, [day]).values()
    assert (count, status, values["rows_written"]) == (1, "FINISHED", 2993)
    assert "MLflow runs are written by a child process" in log and f"No resident MLflow writer at {path}" in log
    assert not [line for line in log.splitlines() if "WARNING" in line and "writer" in line]


def test_a_resident_writer_killed_mid_run_costs_its_run_not_the_data_nor_a_hang(tmp_path, mlflow_store):
    """The writer is stopped (SIGSTOP) before the run connects, so the run's records are surely in flight
    when it is killed: the run notices, warns and leaves, without waiting out its drain timeout."""
    (day,) = mirror.trading_days(2)[-1:]
    experiment, path, folder = f"killed-{time.time_ns()}", tmp_path / "writer.sock", tmp_path / "run"
    with NSEServer(mirror.build([day])) as server, running_mlflow_writer(path) as writer:
        os.kill(writer.pid, signal.SIGSTOP)
        run = one_day_in_a_child(folder, server, mlflow_store, day, experiment, path, "--tracking-drain-timeout", "120")
        try:
            deadline = time.monotonic() + 120
            while (folder / "run.log").read_text().count("===== Luigi Execution Summary =====") < 2:  # the run is queued
                assert run.poll() is None and time.monotonic() < deadline, (folder / "run.log").read_text()[-3000:]
                time.sleep(0.05)
            os.kill(writer.pid, signal.SIGKILL)
            writer.wait()
            log = finished(run, folder)
        finally:
            if run.poll() is None:
                run.kill()
                run.wait()
    assert lake_rows(folder, day) == 2993
    assert "MLflow writer stopped; 1 runs are not recorded" in log and "did not finish within" not in log
    assert recorded(mlflow_store, experiment, [day])[day][0] == 0
