"""Processes: kill -9 in each stage's write, two runs of one date at once, a full disk.

The pipeline runs in real child processes (kill_launcher.py: `luigi --module luigi_tasks ...`),
each test with its own DATA_DIR and its own chdb folder (chdb allows one process per folder, and
this pytest process may hold the session's). While a child runs, a watcher in this process reads
DATA_DIR as a lake reader would and records any visible file that is not whole.
"""
import contextlib
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bench import mirror
from luigi_tasks import layout
from luigi_tasks.lake import read_stage
from luigi_tasks.routes import UDIFF_FROM

from tests.support import DATA, running_luigid
from tests.faults.fault_helpers import (
    DAY, ETL_ARGS, FILE, REPO, OTHER_DAY, OTHER_FILE, SOURCE_ROWS, STAGES, TASK_FAILED, PartialFileWatcher,
    check_whole, child_env, count_csv_rows, csv_text, done_stages, expected_files, hidden_temps, launch,
    launcher_command, lake_rows, no_mlflow, output_of, report_of, stage_targets, stop, visible_files,
    written_before_target,
)
from tests.nse_server import Fault, NSEServer

pytestmark = pytest.mark.usefixtures("no_mlflow")

OTHER_ROWS = count_csv_rows(csv_text(OTHER_FILE))
URL_PATH = f"/content/cm/{FILE}"

# kill point in kill_launcher.py -> the stage whose write it interrupts
KILLS = {
    "download": "DownloadBhavcopy",
    "parse": "ParseBhavcopy",
    "normalize": "NormalizeBhavcopy",
    "write": "WriteParquet",
    "load": "LoadClickHouse",
}


def whole_rows(path) -> int:
    return (read_stage(path) if path.suffix == layout.STAGE_SUFFIX else pq.read_table(path)).num_rows


def disk_state(root: Path) -> dict:
    """What a reader of DATA_DIR sees at one moment."""
    unreadable = []
    for name in sorted(visible_files(root)):
        try:
            check_whole(str(root / name))
        except Exception as exc:  # noqa: BLE001
            unreadable.append(f"{name}: {exc!r}")
    temps = hidden_temps(root)
    return {"done": done_stages(root), "visible": visible_files(root), "unreadable": unreadable, "temps": temps,
            "temp_sizes": [os.path.getsize(root / t) for t in temps], "lake": lake_rows(root)}


def side_by_side(runs: list[tuple[list[str], dict, Path]], timeout: float = 90) -> list[tuple[int, str]]:
    """Start every command at once (output to a file, so no pipe can block one), wait for all."""
    processes = []
    try:
        for command, env, log in runs:
            with open(log, "w") as out:
                processes.append(subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT))
        for process in processes:
            process.wait(timeout)
    finally:
        for process in processes:
            stop(process)
    return [(process.returncode, Path(log).read_text()) for process, (_, _, log) in zip(processes, runs)]


def lines_after(output: str, prefix: str) -> dict | None:
    found = [line.split(" ", 1)[1] for line in output.splitlines() if line.startswith(prefix + " ")]
    return json.loads(found[-1]) if found else None


@pytest.fixture(scope="module")
def kill_runs(tmp_path_factory):
    """The five kill scenarios, side by side (2 cores, and each child spends ~1 s importing).

    Each has its own DATA_DIR, chdb folder and NSE emulator, and starts with another day
    (OTHER_DAY) already in its lake. Phase 1 kills each child in its stage's write; phase 2
    reruns each normally, reporting ClickHouse before and after. A watcher per DATA_DIR reads it
    throughout, as a lake reader would.
    """
    template = tmp_path_factory.mktemp("kill-template")
    with NSEServer.from_folder(DATA) as server:
        prepared = launch(child_env(template, server.url), args=["--module", "luigi_tasks", "BhavcopyETL", "--date",
                          OTHER_DAY.isoformat(), "--load-to-clickhouse", "false", "--local-scheduler"])
        assert prepared.returncode == 0, output_of(prepared)[-3000:]
    runs = {}
    with contextlib.ExitStack() as stack:
        for point in KILLS:
            folder = tmp_path_factory.mktemp(f"kill-{point}")
            shutil.copytree(template / "data", folder / "data")
            server = stack.enter_context(NSEServer.from_folder(DATA))
            runs[point] = {"root": folder / "data", "server": server, "folder": folder,
                           "env": child_env(folder, server.url)}
        phases = [("kill", lambda point: launcher_command("--kill", point)),
                  ("rerun", lambda point: launcher_command("--report-before", "--report"))]
        for phase, command in phases:
            with contextlib.ExitStack() as watching:
                watchers = {point: watching.enter_context(PartialFileWatcher(run["root"])) for point, run in runs.items()}
                results = side_by_side([(command(point), run["env"], run["folder"] / f"{phase}.log")
                                        for point, run in runs.items()])
            for (point, run), (code, output) in zip(runs.items(), results):
                run[phase] = {"code": code, "output": output, "state": disk_state(run["root"]),
                              "problems": watchers[point].problems, "polls": watchers[point].polls,
                              "requests": run["server"].paths_requested().count(URL_PATH)}
    return runs


@pytest.mark.parametrize("point", list(KILLS))
def test_kill_9_in_stage_write_then_rerun(kill_runs, point):
    stage = KILLS[point]
    run = kill_runs[point]
    root = run["root"]
    done_before_kill = STAGES[: STAGES.index(stage)]
    other_files = expected_files(root, STAGES[:-1], OTHER_DAY)

    killed = run["kill"]
    assert killed["code"] == -signal.SIGKILL, killed["output"][-3000:]
    assert "KILL-LAUNCHER: SIGKILL" in killed["output"]
    # What a reader sees after the kill: the finished stages' whole files, nothing of the killed
    # stage's target, and the other day untouched.
    state = killed["state"]
    assert state["done"] == done_before_kill
    assert expected_files(root, done_before_kill) | other_files <= state["visible"]
    assert state["visible"] - expected_files(root, done_before_kill) - other_files <= written_before_target(root, stage)
    assert state["unreadable"] == []
    if stage == "LoadClickHouse":
        assert state["temps"] == []
    else:
        (temp,) = state["temps"]  # the half-written file, hidden from every reader
        assert any(str(root / temp).startswith(str(target.parent / f".{target.name}.tmp-"))
                   for target in stage_targets(root)[stage]), temp
        assert state["temp_sizes"][0] > 0
    expected_lake = {OTHER_DAY.isoformat(): OTHER_ROWS}  # pyarrow.dataset reads it, skipping the temp file
    if stage == "LoadClickHouse":
        expected_lake[DAY.isoformat()] = SOURCE_ROWS
    assert state["lake"] == expected_lake

    rerun = run["rerun"]
    assert rerun["code"] == 0, rerun["output"][-3000:]
    before, after = lines_after(rerun["output"], "KILL-LAUNCHER-BEFORE"), lines_after(rerun["output"],
                                                                                      "KILL-LAUNCHER-REPORT")
    if stage == "LoadClickHouse":  # the insert had happened; only the marker was missing
        assert before["clickhouse"] == {DAY.isoformat(): [SOURCE_ROWS, SOURCE_ROWS]}
    else:
        assert before["clickhouse"] in (None, {})
    assert after["lake"] == {DAY.isoformat(): SOURCE_ROWS, OTHER_DAY.isoformat(): OTHER_ROWS}
    assert after["clickhouse"] == {DAY.isoformat(): [SOURCE_ROWS, SOURCE_ROWS]}  # rows, distinct keys
    final = rerun["state"]
    assert final["done"] == STAGES
    assert final["visible"] == expected_files(root, STAGES) | other_files
    assert final["unreadable"] == []
    assert final["temps"] == []  # the rerun removed the killed write's temp file
    assert layout.raw_path(root, "cm", DAY).read_bytes() == (DATA / FILE).read_bytes()
    # Only what was not done is redone: the file is fetched again only if the download was killed.
    assert rerun["requests"] == (2 if stage == "DownloadBhavcopy" else 1)
    for phase in ("kill", "rerun"):
        assert run[phase]["problems"] == [] and run[phase]["polls"] > 10, phase


RANGE_ARGS = ["--module", "luigi_tasks", "RangeDaily", "--of", "BhavcopyETL", "--start", DAY.isoformat(),
              "--stop", "2025-06-19", "--local-scheduler"]
ALREADY_RUNNING = 10  # [retcode] already_running
NOT_RUN = 25  # [retcode] not_run


def test_two_runs_of_one_date_at_once(tmp_path, nse_server):
    """BhavcopyETL for the day and, at the same moment, RangeDaily over it; and, as a timer and an
    operator might, the very same BhavcopyETL command a second time."""
    root = tmp_path / "data"
    env = child_env(tmp_path, nse_server.url)
    # The runs' downloads are in flight together, so they go on to write the day's stages together.
    nse_server.fault(FILE, Fault(delay=0.3, times=3))
    commands = [ETL_ARGS, RANGE_ARGS, ETL_ARGS]

    with PartialFileWatcher(root) as watcher:
        results = side_by_side([(launcher_command(args=args), env, tmp_path / f"run-{i}.log")
                                for i, args in enumerate(commands)])
    codes = [code for code, _ in results]
    everything = "\n".join(out[-3000:] for _, out in results)
    assert set(codes) <= {0, TASK_FAILED, ALREADY_RUNNING}, everything
    assert codes.count(ALREADY_RUNNING) <= 1 and codes[1] != ALREADY_RUNNING, everything
    for code, out in results:
        if code == TASK_FAILED:  # a loser may fail, but only cleanly: a stage failed, nothing crashed
            assert re.search(r"failed\s+(DownloadBhavcopy|ParseBhavcopy|NormalizeBhavcopy|WriteParquet|"
                             r"LoadClickHouse)\(", out), out[-3000:]
        if code == ALREADY_RUNNING:  # Luigi's pid lock: an identical command line is already running
            assert "already running" in out, out[-3000:]

    requests_before = len(nse_server.requests)
    final = launch(env, "--report")  # one more normal run: completes whatever a failed run left
    assert final.returncode == 0, output_of(final)[-3000:]
    report = report_of(final)
    assert report["lake"] == {DAY.isoformat(): SOURCE_ROWS}
    assert report["clickhouse"] == {DAY.isoformat(): [SOURCE_ROWS, SOURCE_ROWS]}
    if TASK_FAILED not in codes:
        assert len(nse_server.requests) == requests_before, "no stage failed: nothing was left to do"

    # exactly one set of rows, in whole files
    assert done_stages(root) == STAGES
    assert visible_files(root) == expected_files(root, STAGES)
    assert hidden_temps(root) == []
    assert layout.raw_path(root, "cm", DAY).read_bytes() == (DATA / FILE).read_bytes()
    for path_for in (layout.staging_path, layout.normalized_path, layout.lake_path):
        assert whole_rows(path_for(root, "cm", DAY)) == SOURCE_ROWS
    assert whole_rows(layout.rejects_path(root, "cm", DAY)) == 0
    assert watcher.problems == [] and watcher.polls > 10


# ---- two backfills over overlapping ranges at once: one ClickHouse writer at a time ----

BACKFILL_DAYS = mirror.trading_days(8)  # four legacy days, then four UDiFF days
LOCK_ERRORS = ("Cannot lock file", "holds the embedded ClickHouse", "folder locked by process")


def range_args(days, *scheduler: str) -> list[str]:
    return ["--module", "luigi_tasks", "RangeDaily", "--of", "BhavcopyETL", "--start", days[0].isoformat(),
            "--stop", (days[-1] + timedelta(days=1)).isoformat(), *(scheduler or ["--local-scheduler"])]


def assert_every_day_loaded_once(tmp_path, env, days):
    """ClickHouse holds each day's lake rows once (distinct keys = rows), and every day has its marker."""
    root = tmp_path / "data"
    report = report_of(launch(env, "--report", args=[]))
    rows = {day.isoformat(): 2993 if day >= UDIFF_FROM else 2339 for day in days}
    assert report["lake"] == rows
    assert report["clickhouse"] == {day: [count, count] for day, count in rows.items()}
    for day in days:
        assert json.loads(layout.loaded_marker_path(root, "cm", day).read_text())["rows"] == rows[day.isoformat()]
    assert hidden_temps(root) == []


@pytest.mark.parametrize("scheduler", ["local", "luigid"])
def test_overlapping_backfills_at_once_load_every_day_once(tmp_path, scheduler):
    """Days 1-6 and days 3-8 at the same moment, in two processes sharing DATA_DIR and the chdb folder:
    each load waits its turn at the engine instead of failing on chdb's folder lock."""
    env = child_env(tmp_path, "")
    catch_up = range_args(BACKFILL_DAYS)
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(NSEServer(mirror.build(BACKFILL_DAYS)))
        env.update(NSE_BASE_URL=server.url, NSE_WEB_URL=server.url)
        options = []
        if scheduler == "luigid":
            port, _ = stack.enter_context(running_luigid(tmp_path))
            options = ["--scheduler-host", "127.0.0.1", "--scheduler-port", str(port), "--worker-keep-alive"]
        ranges = [BACKFILL_DAYS[:6], BACKFILL_DAYS[2:]]
        results = side_by_side([(launcher_command(args=range_args(days, *options)), env, tmp_path / f"run-{i}.log")
                                for i, days in enumerate(ranges)], timeout=240)
        everything = "\n".join(out for _, out in results)
        codes = [code for code, _ in results]
        # Against luigid a task of both ranges runs once, in one of them; the other run reports it as not
        # granted to it ([retcode] not_run). With local schedulers both runs do the shared days, and a
        # stage of one may remove the other's later outputs (it redoes them), which can fail the other's
        # BhavcopyETL or RangeDaily ("Unfulfilled dependency"). A batch's loads run after all its writes,
        # as one task, so the other run's redo can also leave that task a lake file short: it fails the
        # same way and is retried. A load never fails for any other reason (the engine, its lock).
        assert set(codes) <= {0, NOT_RUN, TASK_FAILED}, everything[-6000:]
        assert not any(error in everything for error in LOCK_ERRORS), everything[-6000:]
        failed_loads = everything.count("failed    LoadClickHouse(")
        assert failed_loads <= everything.count("RuntimeError: Unfulfilled dependency at run time: WriteParquet_"), \
            everything[-6000:]
        if TASK_FAILED in codes:
            completed = launch(env, args=catch_up)  # as the next run would: it completes what the failed run left
            assert completed.returncode == 0, output_of(completed)[-3000:]
        assert_every_day_loaded_once(tmp_path, env, BACKFILL_DAYS)


HOLDER = """\
import sys, time
from luigi_tasks import warehouse
with warehouse.exclusive_client("", 0, "", "", False, sys.argv[1], 1, 1) as client:
    client.command("SELECT 1")
    print("holding", flush=True)
    time.sleep(120)  # a load that never ends: it cannot let go of the engine
"""


def test_a_load_that_waits_past_lock_timeout_fails_naming_the_holder(tmp_path, nse_server):
    env = child_env(tmp_path, nse_server.url)
    chdb = tmp_path / "chdb"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(chdb)], cwd=REPO, env=env, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline() == "holding\n"
        waited = launch(env, args=ETL_ARGS + ["--clickhouse-lock-timeout", "1"])
    finally:
        stop(holder)
    output = output_of(waited)
    assert waited.returncode == TASK_FAILED, output[-3000:]
    assert f"another run (pid {holder.pid}) holds the embedded ClickHouse at {chdb}; waited 1 s" in output
    root = tmp_path / "data"
    assert done_stages(root) == STAGES[:-1]  # the lake is complete; no marker claims a load
    assert lake_rows(root) == {DAY.isoformat(): SOURCE_ROWS}

    rerun = launch(env, "--report")  # the holder is gone: the next run loads
    assert rerun.returncode == 0, output_of(rerun)[-3000:]
    assert report_of(rerun)["clickhouse"] == {DAY.isoformat(): [SOURCE_ROWS, SOURCE_ROWS]}
    assert done_stages(root) == STAGES


# ---- a full disk ----

@pytest.fixture
def small_tmpfs(tmp_path):
    """A 300 kB tmpfs as DATA_DIR: the raw zip (168 kB) fits, the day's other files do not."""
    mount_point = tmp_path / "data"
    mount_point.mkdir()
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(mount_point)],
                       check=True, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", None) or exc
        pytest.skip(f"cannot mount a tmpfs here ({str(detail).strip()}); "
                    "test_full_disk_by_file_size_limit simulates a full disk with RLIMIT_FSIZE instead")
    try:
        yield mount_point
    finally:
        if subprocess.run(["umount", str(mount_point)], capture_output=True, timeout=10).returncode:
            subprocess.run(["umount", "-l", str(mount_point)], capture_output=True, timeout=10)


def assert_failed_stage_left_no_target(root, output: str, error: str) -> str:
    done = done_stages(root)
    failed = STAGES[len(done)]
    assert re.search(rf"failed\s+{failed}\(", output), output[-3000:]
    assert error in output
    # Earlier stages' files are whole; the failed stage left no target and no temp file.
    assert visible_files(root) <= expected_files(root, done) | written_before_target(root, failed)
    assert expected_files(root, done) <= visible_files(root)
    for name in visible_files(root):
        check_whole(str(root / name))
    assert hidden_temps(root) == []
    return failed


LAKE_ONLY = ETL_ARGS + ["--load-to-clickhouse", "false"]


def test_full_disk_tmpfs_then_rerun_with_space(tmp_path, nse_server, small_tmpfs):
    env = child_env(tmp_path, nse_server.url)
    full = launch(env, args=LAKE_ONLY)
    assert full.returncode == TASK_FAILED, output_of(full)[-3000:]
    failed = assert_failed_stage_left_no_target(small_tmpfs, output_of(full), "No space left on device")
    assert failed != "DownloadBhavcopy"  # the disk filled up on a later stage's write

    subprocess.run(["mount", "-o", "remount,size=20m", str(small_tmpfs)], check=True, timeout=10)
    rerun = launch(env, args=LAKE_ONLY)
    assert rerun.returncode == 0, output_of(rerun)[-3000:]
    assert done_stages(small_tmpfs) == STAGES[:-1]
    assert lake_rows(small_tmpfs) == {DAY.isoformat(): SOURCE_ROWS}
    assert hidden_temps(small_tmpfs) == []


def test_full_disk_by_file_size_limit(tmp_path, nse_server):
    """The fallback simulation where no tmpfs can be mounted: RLIMIT_FSIZE in the child (with
    SIGXFSZ ignored, a write past the limit fails with EFBIG instead of killing the process)."""
    root = tmp_path / "data"
    env = child_env(tmp_path, nse_server.url)

    def limit_file_size():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))  # the raw zip is 168 kB

    full = launch(env, args=LAKE_ONLY, preexec_fn=limit_file_size)
    assert full.returncode == TASK_FAILED, output_of(full)[-3000:]
    assert assert_failed_stage_left_no_target(root, output_of(full), "File too large") == "DownloadBhavcopy"

    rerun = launch(env, args=LAKE_ONLY)
    assert rerun.returncode == 0, output_of(rerun)[-3000:]
    assert done_stages(root) == STAGES[:-1]
    assert lake_rows(root) == {DAY.isoformat(): SOURCE_ROWS}


def test_watcher_reports_a_partial_file(tmp_path):
    """The watcher is not blind: half a Parquet file, half a zip, under visible names, are reported."""
    root = tmp_path / "data"
    (root / "lake").mkdir(parents=True)
    (root / "raw").mkdir()
    pq.write_table(pa.table({"a": list(range(1000))}), tmp_path / "whole.parquet")
    whole = (tmp_path / "whole.parquet").read_bytes()
    (root / "lake" / "half.parquet").write_bytes(whole[: len(whole) // 2])
    (root / "raw" / "half.zip").write_bytes((DATA / FILE).read_bytes()[:50_000])
    (root / "lake" / ".hidden.parquet.tmp-1").write_bytes(b"half")  # hidden: not a reader's business
    with PartialFileWatcher(root) as watcher:
        time.sleep(0.05)
    assert sorted(problem.split(":", 1)[0] for problem in set(watcher.problems)) == ["lake/half.parquet", "raw/half.zip"]
