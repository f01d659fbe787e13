"""Shared by tests/faults: the day under test, what NSE's file holds, and what a run left on disk.

Every fault test asserts on the data: which stage targets exist (paths from `layout.py`, the
module every task asks), whether anything partial is visible, and row counts in the lake and
ClickHouse against the rows of NSE's file counted here with the `csv` module.
"""
import base64
import contextlib
import csv
import io
import json
import os
import signal
import subprocess
import sys
import threading
import urllib.parse
import zipfile
from datetime import date
from pathlib import Path

import luigi
import pyarrow.parquet as pq
import pytest

from luigi_tasks import lake, layout, stages, warehouse
from luigi_tasks.config import clickhouse
from luigi_tasks.tasks import BhavcopyETL
from luigi_tasks.lake import read_stage

from tests.support import DATA
from tests.nse_server import member_text, zip_bytes

REPO = Path(__file__).resolve().parents[2]
LAUNCHER = Path(__file__).resolve().parent / "kill_launcher.py"

DAY = date(2025, 6, 18)
FILE = "BhavCopy_NSE_CM_0_0_0_20250618_F_0000.csv.zip"  # NSE's UDiFF file for DAY (first route)
MEMBER = FILE[: -len(".zip")]
LEGACY_FALLBACK = "cm18JUN2025bhav.csv.zip"  # the second route tried for DAY
OTHER_DAY, OTHER_FILE = date(2025, 6, 19), "BhavCopy_NSE_CM_0_0_0_20250619_F_0000.csv.zip"

# Luigi's exit code for a failed task ([retcode] task_failed in luigi.cfg)
TASK_FAILED = 30

STAGES = stages.NAMES


def csv_text(file_name: str = FILE) -> str:
    return member_text(DATA / file_name)


def count_csv_rows(text: str) -> int:
    """Data rows of a CSV, read with the standard library: an independent view of the source."""
    return sum(1 for _ in csv.DictReader(io.StringIO(text)))


SOURCE_ROWS = count_csv_rows(csv_text())  # 2993 rows in NSE's file for DAY


def make_zip(member: str, data: str | bytes) -> bytes:
    return zip_bytes({member: data})


# ---- what a run left on disk ----

def stage_targets(root: Path, day: date = DAY, dataset: str = "cm") -> dict[str, list[Path]]:
    """Each stage's target files for a day (a stage is done when all of them exist)."""
    return {
        "DownloadBhavcopy": [layout.raw_path(root, dataset, day)],
        "ParseBhavcopy": [layout.staging_path(root, dataset, day)],
        "NormalizeBhavcopy": [layout.normalized_path(root, dataset, day), layout.rejects_path(root, dataset, day)],
        "WriteParquet": [layout.lake_path(root, dataset, day)],
        "LoadClickHouse": [layout.loaded_marker_path(root, dataset, day)],
    }


def done_stages(root: Path, day: date = DAY) -> list[str]:
    """Stages whose target files exist, each with the record that seals it (stages.STAGES)."""
    records = {output.path(root, "cm", day): output.record(root, "cm", day) for output in stages.STAGES}
    return [stage for stage, paths in stage_targets(root, day).items()
            if all(p.exists() and records[p].exists() for p in paths)]


def expected_files(root: Path, stages: list[str], day: date = DAY) -> set[str]:
    """The visible files that finished stages leave: their targets, and the download's sidecar."""
    files = {p for stage in stages for p in stage_targets(root, day)[stage]}
    if "DownloadBhavcopy" in stages:
        files.add(layout.raw_sidecar_path(root, "cm", day))
    return {str(p.relative_to(root)) for p in files}


def written_before_target(root: Path, stage: str, day: date = DAY) -> set[str]:
    """Whole files a stage writes before its own target: the download's sidecar, Normalize's rejects
    (the good rows' file is what marks that stage done). A stage stopped before its target may leave them."""
    paths = {"DownloadBhavcopy": [layout.raw_sidecar_path(root, "cm", day)],
             "NormalizeBhavcopy": [layout.rejects_path(root, "cm", day)]}.get(stage, [])
    return {str(p.relative_to(root)) for p in paths}


def visible_files(root: Path) -> set[str]:
    """Files a reader of DATA_DIR sees: everything but hidden (dot) files and folders."""
    found = set()
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found |= {os.path.relpath(os.path.join(folder, name), root) for name in files if not name.startswith(".")}
    return found


def hidden_temps(root: Path) -> list[str]:
    return sorted(os.path.relpath(p, root) for p in Path(root).rglob(".*.tmp-*"))


def tree(path: Path) -> set[str]:
    """Every file and folder under `path`, relative to it."""
    return {os.path.relpath(os.path.join(folder, name), path)
            for folder, dirs, files in os.walk(path) for name in dirs + files}


def lake_rows(root: Path) -> dict[str, int]:
    """Rows per trade date in the lake, read as any lake reader does (hive, hidden files skipped)."""
    lake_root = layout.lake_root(root, "cm")
    if not lake_root.exists():
        return {}
    table = lake.open_lake(lake_root).to_table(columns=["trade_date"])
    counts: dict[str, int] = {}
    for day in table["trade_date"].to_pylist():
        counts[day.isoformat()] = counts.get(day.isoformat(), 0) + 1
    return counts


def rejects_rows(root: Path, day: date = DAY) -> int:
    return read_stage(layout.rejects_path(root, "cm", day)).num_rows


def clickhouse_rows(day: date = DAY) -> int | None:
    """Rows the in-process (session) embedded ClickHouse holds for a day; None: no table."""
    settings = clickhouse()
    table = settings.table_for("cm")
    client = warehouse.connect(chdb_path=settings.chdb_path)
    exists = client.command(
        "SELECT count() FROM system.tables WHERE database = {db:String} AND name = {t:String}",
        parameters={"db": settings.database, "t": table},
    )
    if not int(exists):
        return None
    return int(client.command(
        f"SELECT count() FROM `{settings.database}`.`{table}` WHERE trade_date = {{d:Date}}",
        parameters={"d": day},
    ))


def assert_nothing_kept(root: Path) -> None:
    """A failed download leaves no file at all: no raw zip, no sidecar, no temp file."""
    assert not layout.raw_path(root, "cm", DAY).exists()
    assert visible_files(root) == set()
    assert hidden_temps(root) == []


def assert_day_complete(root: Path, day: date = DAY, rows: int = SOURCE_ROWS, load: bool = True) -> None:
    """Every stage done; the lake and ClickHouse hold exactly the source's rows, nothing partial."""
    assert done_stages(root, day) == (STAGES if load else STAGES[:-1])
    assert lake_rows(root)[day.isoformat()] == rows
    assert rejects_rows(root, day) == 0  # NSE's real file has no rejects: every source row is in the lake
    if load:
        assert clickhouse_rows(day) == rows
        assert json.loads(layout.loaded_marker_path(root, "cm", day).read_text())["rows"] == rows
    assert hidden_temps(root) == []


@contextlib.contextmanager
def luigi_failures():
    """The (task family, exception) of every stage (or gate) that fails while the block runs in-process.

    A BhavcopyETL run whose stages fail then fails itself, its one line repeating theirs: checked
    here, so that every test of a stage's failure also checks what the run reports.
    """
    seen: list[tuple[str, BaseException]] = []
    runs: list[BaseException] = []

    def record(task, exception):
        if isinstance(task, BhavcopyETL):
            runs.append(exception)
        else:
            seen.append((task.task_family, exception))

    luigi.Task.event_handler(luigi.Event.FAILURE)(record)
    try:
        yield seen
    finally:
        luigi.Task.remove_event_handler(luigi.Event.FAILURE, record)
    for error in runs:
        assert "stage chains not done: " in str(error), error
        assert seen and str(seen[-1][1]) in str(error), f"the run's failure does not repeat its stage's: {error}"


# ---- watching DATA_DIR while another process writes it ----

def check_whole(path: str) -> None:
    """Raise unless the file is whole: a Parquet or Arrow IPC footer, a zip directory, a JSON document."""
    if path.endswith(".parquet"):
        pq.ParquetFile(path).metadata  # noqa: B018  (a cut file has no footer)
    elif path.endswith(layout.STAGE_SUFFIX):
        read_stage(path)
    elif path.endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
        if bad is not None:
            raise ValueError(f"corrupt member {bad}")
    elif path.endswith(".json"):
        with open(path) as handle:
            json.load(handle)


class PartialFileWatcher(threading.Thread):
    """Polls DATA_DIR as a reader would, and records every visible file that is not whole."""

    def __init__(self, root: Path, interval: float = 0.02):
        super().__init__(daemon=True)
        self.root, self.interval = Path(root), interval
        self.stopped = threading.Event()
        self.problems: list[str] = []
        self.seen: set[str] = set()
        self.checked: set[tuple] = set()
        self.polls = 0

    def run(self):
        while not self.stopped.is_set():
            self.poll()
            self.stopped.wait(self.interval)
        self.poll()

    def poll(self):
        self.polls += 1
        for name in visible_files(self.root) if self.root.exists() else ():
            path = os.path.join(self.root, name)
            try:
                info = os.stat(path)
                signature = (name, info.st_ino, info.st_size, info.st_mtime_ns)
                if signature in self.checked:
                    continue  # this very file was whole when last read; a rename brings a new inode
                check_whole(path)
            except FileNotFoundError:
                continue  # replaced or removed between the listing and the read
            except Exception as exc:  # noqa: BLE001  (any unreadable visible file is a finding)
                self.problems.append(f"{name}: {exc!r}")
            else:
                self.checked.add(signature)
                self.seen.add(name)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.join(10)


# ---- child processes ----

CHILD_CONFIG = """\
[core]
# Luigi refuses a second run of an identical command line while one runs (exit 10, already
# running); the lock is kept per test folder so that side-by-side tests do not meet in /tmp/luigi.
lock_pid_dir = {lock_dir}
[worker]
keep_alive = false
[scheduler]
retry_delay = 0.2
[BhavcopyETL]
datasets = ["cm"]
[nse]
connect_timeout = 2
read_timeout = 2
http_retries = 1
backoff_factor = 0
[clickhouse]
health_timeout = 1
[tracking]
enabled = false
"""

ETL_ARGS = ["--module", "luigi_tasks", "BhavcopyETL", "--date", DAY.isoformat(), "--local-scheduler"]


def child_env(tmp_path: Path, nse_url: str, **overrides: str) -> dict[str, str]:
    """A child's environment: its own DATA_DIR and chdb folder (never the session's), no MLflow.

    chdb allows one process per engine folder, and this pytest process may hold the session's.
    """
    config = tmp_path / "child-luigi.cfg"
    config.write_text(CHILD_CONFIG.format(lock_dir=tmp_path / "luigi-pid"))
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("CLICKHOUSE_", "MLFLOW_", "CHDB_", "LUIGI_", "NSE_")) and name != "DATA_DIR"}
    env.update(
        DATA_DIR=str(tmp_path / "data"),
        CHDB_PATH=str(tmp_path / "chdb"),
        NSE_BASE_URL=nse_url,
        NSE_WEB_URL=nse_url,  # the main site's reports API route: the emulator, never the real site
        MLFLOW_ENABLED="false",
        LUIGI_CONFIG_PATH=str(config),  # read after the repository's luigi.cfg, so it wins
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return env


def launcher_command(*options: str, args=ETL_ARGS) -> list[str]:
    command = [sys.executable, str(LAUNCHER), *options, "--"]
    return command + list(args)


def launch(env: dict, *options: str, args=ETL_ARGS, timeout: float = 60, **popen) -> subprocess.CompletedProcess:
    """Run the launcher to the end (subprocess.run kills it by PID if it outlives `timeout`)."""
    return subprocess.run(launcher_command(*options, args=args), cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout, **popen)


def output_of(completed) -> str:
    return (completed.stdout or "") + (completed.stderr or "")


def report_of(completed) -> dict:
    lines = [line for line in completed.stdout.splitlines() if line.startswith("KILL-LAUNCHER-REPORT ")]
    assert lines, f"no report (exit {completed.returncode}):\n{output_of(completed)[-3000:]}"
    return json.loads(lines[-1].split(" ", 1)[1])


def stop(process: subprocess.Popen) -> None:
    """End a child this test started, by its PID, if it is still running."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
    process.wait(10)


def secret_forms(user: str, password: str) -> list[str]:
    """The ways a password could leak: as is, URL-encoded, or inside a Basic auth header."""
    basic = base64.b64encode(f"{user}:{password}".encode()).decode()
    return sorted({password, urllib.parse.quote(password, safe=""), urllib.parse.quote_plus(password), basic})


def assert_no_secret(text: str, forms: list[str], where: str) -> None:
    for form in forms:
        assert form not in text, f"the ClickHouse password ({form!r}) appears in {where}"


@pytest.fixture
def no_mlflow(monkeypatch):
    """Run tracking has tests of its own (test_metrics.py); here it would only cost time."""
    monkeypatch.setenv("MLFLOW_ENABLED", "false")

