"""Security: no credential leaks, no SQL through settings, no other host fetched, no path from NSE.

The ClickHouse password in these tests is unique per test and full of URL-special characters; it
is looked for as is, URL-encoded and inside a Basic auth header.
"""
import base64
import contextlib
import json
import threading
import traceback
import uuid
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import luigi
import pytest
from luigi.execution_summary import LuigiStatusCode
from mlflow.tracking import MlflowClient

from luigi_tasks import layout, warehouse
from luigi_tasks.config import clickhouse
from luigi_tasks.tasks import (
    BhavcopyETL, DownloadBhavcopy, LoadClickHouse, NormalizeBhavcopy, ParseBhavcopy, WriteParquet,
)

from tests.support import DATA, free_port, luigid_api, running_luigid
from tests.faults.fault_helpers import (
    DAY, FILE, LEGACY_FALLBACK, MEMBER, SOURCE_ROWS, STAGES, TASK_FAILED, assert_day_complete, assert_no_secret,
    assert_nothing_kept, child_env, done_stages, expected_files, lake_rows, launch, luigi_failures, no_mlflow,
    output_of, secret_forms, tree, visible_files,
)
from tests.nse_server import Fault, NSEServer

URL_PATH = f"/content/cm/{FILE}"
USER = "etl_loader"


def unique_password() -> str:
    return f"Pw-{uuid.uuid4().hex}:@/?#%&=+ é"


class RefusingClickHouse:
    """A ClickHouse HTTP endpoint on 127.0.0.1 that refuses every login, as a real one does (code 516)."""

    def __init__(self):
        self.authorizations: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                outer.authorizations.append(self.headers.get("Authorization", ""))
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = (f"Code: 516. DB::Exception: {USER}: Authentication failed: password is incorrect, or there "
                        "is no user with such name. (AUTHENTICATION_FAILED)\n").encode()
                self.send_response(401)
                self.send_header("X-ClickHouse-Exception-Code", "516")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_GET

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]

    def __enter__(self):
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def point_at_server(monkeypatch, password: str, port: int) -> int:
    for name, value in {"CLICKHOUSE_HOST": "127.0.0.1", "CLICKHOUSE_PORT": str(port), "CLICKHOUSE_USER": USER,
                        "CLICKHOUSE_PASSWORD": password}.items():
        monkeypatch.setenv(name, value)
    return port


@pytest.mark.parametrize("server", ["closed-port", "wrong-password"])
def test_password_absent_from_mlflow_and_errors(data_dir, nse_server, run_tasks, monkeypatch, luigi_config,
                                                mlflow_store, caplog, server):
    """The load fails (nothing listens / the login is refused); the password is in none of what it leaves."""
    password = unique_password()
    forms = secret_forms(USER, password)
    experiment = f"faults-{uuid.uuid4().hex}"
    luigi_config("tracking", "experiment", experiment)

    with contextlib.ExitStack() as stack:
        refusing = stack.enter_context(RefusingClickHouse()) if server == "wrong-password" else None
        port = point_at_server(monkeypatch, password, refusing.port if refusing else free_port())
        with luigi_failures() as failed:
            result = run_tasks(BhavcopyETL(date=DAY, load_to_clickhouse=True))
    if refusing:  # the password did travel (Basic auth), so it could have leaked
        basic = base64.b64encode(f"{USER}:{password}".encode()).decode()
        assert refusing.authorizations and refusing.authorizations[0] == f"Basic {basic}"
    assert result.status == LuigiStatusCode.FAILED
    ((family, error),) = failed
    assert family == "LoadClickHouse"
    assert f"cannot connect to ClickHouse at 127.0.0.1:{port}" in str(error)
    assert f"cannot connect to ClickHouse at 127.0.0.1:{port}" in caplog.text  # Luigi logged the failure
    for text, where in [(str(error), "the exception"), (repr(error), "the exception's repr"),
                        ("".join(traceback.format_exception(error)), "the traceback, causes included"),
                        (caplog.text, "the log records")]:
        assert_no_secret(text, forms, where)

    # the data: the lake is complete, and no load marker claims a load that did not happen
    assert lake_rows(data_dir) == {DAY.isoformat(): SOURCE_ROWS}
    assert not layout.loaded_marker_path(data_dir, "cm", DAY).exists()

    client = MlflowClient(tracking_uri=mlflow_store)
    (run,) = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    assert run.data.params["status"] == "failed"
    assert run.data.params["error"].startswith(f"LoadClickHouse: cannot connect to ClickHouse at 127.0.0.1:{port}")
    recorded = json.dumps({"params": run.data.params, "tags": run.data.tags, "metrics": run.data.metrics,
                           "name": run.info.run_name}, ensure_ascii=False)
    assert_no_secret(recorded, forms, "the MLflow run")


def all_tasks(task) -> list:
    """The task, what it requires, and for a BhavcopyETL the stage chains its run builds."""
    found, todo = [], [task]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(luigi.task.flatten(current.requires()))
        if isinstance(current, BhavcopyETL):
            todo.extend(stage for day in current.dates for stage in current.stages(day))
    return found


def test_password_absent_from_logs_and_visualiser(tmp_path, nse_server, monkeypatch):
    password = unique_password()
    forms = secret_forms(USER, password)
    port = free_port()
    server = {"CLICKHOUSE_HOST": "127.0.0.1", "CLICKHOUSE_PORT": str(port), "CLICKHOUSE_USER": USER,
              "CLICKHOUSE_PASSWORD": password}
    env = child_env(tmp_path, nse_server.url, **server)

    with running_luigid(tmp_path) as (scheduler_port, url):
        run = launch(env, args=["--module", "luigi_tasks", "BhavcopyETL", "--date", DAY.isoformat(),
                                "--scheduler-host", "127.0.0.1", "--scheduler-port", str(scheduler_port)])
        output = output_of(run)
        assert run.returncode == TASK_FAILED, output[-3000:]
        assert f"cannot connect to ClickHouse at 127.0.0.1:{port}" in output
        assert_no_secret(output, forms, "the run's log output")

        pages = {status: luigid_api(url, "task_list", status=status, upstream_status="", search="")
                 for status in ("PENDING", "RUNNING", "DONE", "FAILED", "DISABLED")}
        failed = json.loads(pages["FAILED"])["response"]
        assert {task["name"] for task in failed.values()} == {"LoadClickHouse"}
        for task_id in failed:
            pages[f"error of {task_id}"] = luigid_api(url, "fetch_error", task_id=task_id)
            assert "cannot connect to ClickHouse" in pages[f"error of {task_id}"]  # the real error text is there
        done = json.loads(pages["DONE"])["response"]
        assert {task["name"] for task in done.values()} >= {"DownloadBhavcopy", "WriteParquet"}
        for task_id in list(failed) + list(done):
            pages[f"graph of {task_id}"] = luigid_api(url, "dep_graph", task_id=task_id)
        pages["workers"] = luigid_api(url, "worker_list")
        pages["resources"] = luigid_api(url, "resource_list")
        for name, text in pages.items():
            assert_no_secret(text, forms, f"luigid's {name}")
    for path in tmp_path.glob("luigid-*"):  # its log folder and the state it saved at exit
        for file in [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]:
            assert_no_secret(file.read_bytes().decode("utf-8", "replace"), forms, f"luigid's {file.name}")

    # every task's parameters, as the worker sends them to the scheduler and as logged
    for name, value in {**server, "DATA_DIR": str(tmp_path / "data")}.items():
        monkeypatch.setenv(name, value)
    tasks = all_tasks(BhavcopyETL(date=DAY, load_to_clickhouse=True))
    assert {task.task_family for task in tasks} == {"BhavcopyETL", *STAGES}
    for task in tasks:
        for text in (json.dumps(task.to_str_params()), json.dumps(task.to_str_params(True, True)), str(task),
                     task.task_id):
            assert_no_secret(text, forms, f"{task.task_family}'s parameters")
    settings = clickhouse()
    assert settings.password == password
    assert "password" not in settings.to_str_params(only_significant=True, only_public=True)

    # and the data: the lake is whole, no marker
    assert lake_rows(tmp_path / "data") == {DAY.isoformat(): SOURCE_ROWS}
    assert not layout.loaded_marker_path(tmp_path / "data", "cm", DAY).exists()


@pytest.mark.parametrize("setting, value", [("database", "nse; DROP TABLE x"),
                                            ("table", "cm_bhavcopy`; DROP TABLE x; --")], ids=["database", "table"])
def test_sql_identifier_refused(data_dir, nse_server, run_tasks, monkeypatch, luigi_config, no_mlflow, setting,
                                value):
    client = warehouse.connect(chdb_path=clickhouse().chdb_path)  # the session's engine
    client.command("CREATE TABLE IF NOT EXISTS default.x (a UInt8) ENGINE = MergeTree ORDER BY a")
    try:
        if setting == "database":
            monkeypatch.setenv("CLICKHOUSE_DATABASE", value)
        else:
            luigi_config("clickhouse", "tables", json.dumps({"cm": value}))
        with luigi_failures() as failed:
            result = run_tasks(BhavcopyETL(date=DAY))
        assert result.status == LuigiStatusCode.FAILED
        ((family, error),) = failed
        assert family == "LoadClickHouse"
        assert f"invalid ClickHouse identifier {value!r}" in str(error)
        assert not layout.loaded_marker_path(data_dir, "cm", DAY).exists()
        assert lake_rows(data_dir) == {DAY.isoformat(): SOURCE_ROWS}
        # nothing ran: the canary table stands, and no database or table carries the injected text
        assert int(client.command("SELECT count() FROM system.tables WHERE database = 'default' AND name = 'x'")) == 1
        assert int(client.command("SELECT count() FROM system.databases WHERE position(name, ';') > 0")) == 0
        assert int(client.command("SELECT count() FROM system.tables WHERE position(name, ';') > 0")) == 0
    finally:
        client.command("DROP TABLE IF EXISTS default.x")


@pytest.mark.parametrize("form", ["absolute", "scheme-relative", "userinfo-trick"])
def test_redirect_to_other_host_refused(data_dir, nse_server, run_tasks, no_mlflow, form):
    host = nse_server.url.split("//", 1)[1]
    with NSEServer.from_folder(DATA) as other:  # "the other host": it holds the file too
        other_host = other.url.split("//", 1)[1]
        location = {"absolute": f"{other.url}{URL_PATH}", "scheme-relative": f"//{other_host}{URL_PATH}",
                    "userinfo-trick": f"http://{host}@{other_host}{URL_PATH}"}[form]
        redirect = Fault(status=302, body=b"", content_type="text/plain", headers={"Location": location})
        nse_server.fault(FILE, redirect)
        nse_server.fault(LEGACY_FALLBACK, redirect)
        with luigi_failures() as failed:
            result = run_tasks(BhavcopyETL(date=DAY))
        assert result.status == LuigiStatusCode.FAILED
        ((family, error),) = failed
        assert family == "DownloadBhavcopy"
        assert str(error).startswith(f"2025-06-18 {nse_server.url}{URL_PATH}: redirected to another host")
        # every route is tried, each refuses the redirect, and the message names both
        assert str(error).endswith(f"/content/historical/EQUITIES/2025/JUN/cm18JUN2025bhav.csv.zip "
                                   f"(redirected to another host ({urlsplit(location).netloc}); only {host} is fetched)")
        assert other.requests == []
    assert_nothing_kept(data_dir)


STAGE_PATHS = {
    DownloadBhavcopy: [layout.raw_path],
    ParseBhavcopy: [layout.staging_path],
    NormalizeBhavcopy: [layout.normalized_path, layout.rejects_path],
    WriteParquet: [layout.lake_path],
    LoadClickHouse: [layout.loaded_marker_path],
}


def test_output_paths_from_date_and_dataset_only(data_dir):
    root = data_dir.resolve()
    for dataset in layout.DATASETS:
        for day in (date(2005, 1, 3), DAY, date(2099, 12, 31)):
            for task_class, path_fors in STAGE_PATHS.items():
                outputs = [Path(target.path) for target in luigi.task.flatten(task_class(date=day, dataset=dataset).output())]
                assert sorted(outputs) == sorted(path_for(data_dir, dataset, day) for path_for in path_fors)
                for path in outputs:
                    assert path.resolve().is_relative_to(root) and ".." not in path.parts
                    assert day.isoformat() in path.name
    for hostile in ("../../etc", "cm/../..", "/tmp"):
        with pytest.raises(Exception, match="dataset|choice|Choice"):
            DownloadBhavcopy(date=DAY, dataset=hostile)


def test_nothing_nse_sends_moves_a_file(tmp_path, data_dir, nse_server, run_tasks, no_mlflow):
    """Headers naming other places change nothing: every file lands where layout.py says."""
    nse_server.fault(FILE, Fault(headers={"Content-Disposition": 'attachment; filename="../../../../tmp/evil.zip"',
                                          "Content-Location": "/../../evil.zip"}))
    before = tree(tmp_path)
    assert run_tasks(BhavcopyETL(date=DAY)).status == LuigiStatusCode.SUCCESS
    assert visible_files(data_dir) == expected_files(data_dir, STAGES)
    assert {p for p in tree(tmp_path) - before if p != "data" and not p.startswith("data/")} == set()
    assert json.loads(layout.raw_sidecar_path(data_dir, "cm", DAY).read_text())["member"] == MEMBER
    assert_day_complete(data_dir)


# ---- symlinks: nothing under DATA_DIR leads a write out of it ----

@pytest.mark.parametrize("link", ["mlflow.db", "clickhouse", "raw", "lake/cm_bhavcopy"])
def test_a_symlink_out_of_data_dir_is_never_written_through(tmp_path, data_dir, nse_server, run_tasks, monkeypatch,
                                                           caplog, link):
    """A dangling link (sqlite and chdb would create their store where it points) or a link to an
    existing folder: the write is refused, naming the link; nothing appears outside DATA_DIR."""
    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / "target"
    if link in ("raw", "lake/cm_bhavcopy"):
        target.mkdir()  # a real folder out there, that a write would happily land in
    (data_dir / link).parent.mkdir(parents=True, exist_ok=True)
    (data_dir / link).symlink_to(target)
    monkeypatch.delenv("MLFLOW_TRACKING_URI")  # the default store: DATA_DIR/mlflow.db
    if link == "clickhouse":
        monkeypatch.delenv("CHDB_PATH")  # the default engine folder (refused before the engine opens)
    before = tree(outside)

    with luigi_failures() as failed:
        result = run_tasks(BhavcopyETL(date=DAY))
    assert tree(outside) == before  # the DATA: nothing was created where the link points
    refused = f"{data_dir / link}" if link != "raw" else f"{data_dir / 'raw'}/cm/2025-06-18"
    if link == "mlflow.db":  # tracking never fails the pipeline: the day is loaded, the run is not recorded
        assert result.status == LuigiStatusCode.SUCCESS and failed == []
        assert f"MLflow run for {DAY} not recorded: {data_dir / link} leads to {target}, outside DATA_DIR" in caplog.text
        assert done_stages(data_dir) == STAGES
        return
    ((family, error),) = failed
    assert family == {"clickhouse": "LoadClickHouse", "raw": "DownloadBhavcopy", "lake/cm_bhavcopy": "WriteParquet"}[link]
    assert str(error).startswith(refused) and ", outside DATA_DIR (" in str(error), error
    assert done_stages(data_dir) == STAGES[: STAGES.index(family)]
