"""The writer process, as a child on stdin and resident on a socket: a warm-up, then every run through
MLflow's own client; read back through MLflow."""
import json
import math
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

from mlflow.tracking import MlflowClient

from luigi_tasks import mlflow_writer

from tests.support import running_mlflow_writer

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


# ---- the resident writer: the same protocol on a Unix socket, MLflow imported once ----

def over_socket(path, records: list[dict]) -> list[str]:
    """One connection, as metrics.py makes it: the records, the end of input, every answer line."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(60)
        connection.connect(str(path))
        connection.sendall("".join(json.dumps(record) + "\n" for record in records).encode())
        connection.shutdown(socket.SHUT_WR)
        with connection.makefile("r") as answers:
            return answers.read().splitlines()


def test_the_resident_writer_keeps_its_store_open_across_connections(tmp_path):
    uri, path = f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path / "writer.sock"
    with running_mlflow_writer(path) as writer:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert over_socket(path, [{**RECORD, "uri": uri, "warm": True}] + [{**RECORD, "uri": uri}] * 2) == ["done"] * 3
        assert over_socket(path, [{**RECORD, "uri": uri, "warm": True}, {**RECORD, "uri": uri}]) == ["done"] * 2
        assert writer.poll() is None
    assert len(runs(uri)) == 3 and writer.returncode == 0 and not path.exists()  # SIGTERM: the socket goes too
    log = Path(f"{path}.log").read_text().splitlines()
    assert [line for line in log if "records" in line] == [
        "mlflow-writer: 3 records from one connection, 2 runs written",
        "mlflow-writer: 2 records from one connection, 1 runs written"]


def test_a_failure_disables_its_uri_for_that_connection_only_and_is_sent_back(tmp_path):
    (tmp_path / "a-file").write_text("")
    bad, path = f"sqlite:///{tmp_path / 'a-file' / 'mlflow.db'}", tmp_path / "writer.sock"
    with running_mlflow_writer(path):
        for _ in range(2):  # the next run tries again: a store that was down last night may be up tonight
            answers = over_socket(path, [{**RECORD, "uri": bad, "warm": True}] + [{**RECORD, "uri": bad}] * 2)
            assert answers[0] == "done" and answers[2:] == ["done"] * 2
            assert answers[1].startswith("WARNING: MLflow at  is unavailable; runs from 2025-06-18 on are not recorded")
    log = Path(f"{path}.log").read_text()
    assert log.count("WARNING: MLflow at") == 2 and "3 records from one connection, 0 runs written" in log


def test_a_second_resident_writer_refuses_to_start_and_the_first_keeps_serving(tmp_path):
    uri, path = f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path / "writer.sock"
    with running_mlflow_writer(path) as first:
        second = subprocess.run([sys.executable, "-m", "luigi_tasks", "mlflow-writer", "--socket", str(path)],
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 1
        assert second.stderr.splitlines() == [
            f"mlflow-writer: another MLflow writer is already listening on {path}; not started"]
        assert over_socket(path, [{**RECORD, "uri": uri}]) == ["done"] and first.poll() is None
    assert len(runs(uri)) == 1


def test_a_stale_socket_is_replaced_and_a_file_that_is_no_socket_refused(tmp_path):
    path = tmp_path / "writer.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as left:  # bound, never listened: as a killed writer leaves it
        left.bind(str(path))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with running_mlflow_writer(path):
        assert over_socket(path, [{**RECORD, "uri": uri}]) == ["done"]
    assert len(runs(uri)) == 1
    path.write_text("not a socket")
    refused = subprocess.run([sys.executable, "-P", mlflow_writer.__file__, "--serve", str(path)],
                             capture_output=True, text=True, timeout=120)
    assert (refused.returncode, refused.stderr.strip()) == (
        1, f"mlflow-writer: {path} exists and is not a socket; not started")
    assert path.read_text() == "not a socket"


def test_a_store_file_replaced_under_the_resident_writer_is_not_written_blind(tmp_path):
    """MLflow keeps its connections to a deleted mlflow.db; the writer says so and leaves, to be restarted."""
    uri, path = f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path / "writer.sock"
    with running_mlflow_writer(path) as writer:
        assert over_socket(path, [{**RECORD, "uri": uri}]) == ["done"]
        (tmp_path / "mlflow.db").unlink()
        answers = over_socket(path, [{**RECORD, "uri": uri}])
        assert writer.wait(30) == 1
    assert answers[-1] == "done" and "was removed or replaced since this writer opened it" in answers[0]
    assert not path.exists() and not (tmp_path / "mlflow.db").exists()
