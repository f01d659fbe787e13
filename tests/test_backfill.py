"""Backfill with Luigi's RangeDaily, retries within one run, and a run against a real luigid."""
import json
import os
import subprocess
import sys
import time
import urllib.request
from datetime import date

import pytest
from luigi.execution_summary import LuigiStatusCode

from luigi_tasks import RangeDaily, layout
from luigi_tasks.tasks import BhavcopyETL, DownloadBhavcopy

from tests.nse_server import Fault
from tests.support import running_luigid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# 2025-06-18 (Wed) and 2025-06-19 (Thu) have fixtures; 2025-06-20 is a Friday NSE's mirror lacks here.
FIXTURE_DAYS = [date(2025, 6, 18), date(2025, 6, 19)]


def backfill(start, stop, **of_params):
    return RangeDaily(of=BhavcopyETL, start=start, stop=stop, of_params={"load_to_clickhouse": False, **of_params})


def test_range_daily_over_a_weekend_requests_only_sessions(data_dir, nse_server, run_tasks):
    """2022-12-01 (Thu) .. 2022-12-05 (Mon): Saturday and Sunday cost no request."""
    result = run_tasks(backfill(date(2022, 12, 1), date(2022, 12, 3)))
    assert result.status == LuigiStatusCode.SUCCESS
    assert sorted(layout.lake_dates(data_dir, "cm")) == [date(2022, 12, 1), date(2022, 12, 2)]

    nse_server.requests.clear()
    result = run_tasks(backfill(date(2022, 12, 3), date(2022, 12, 5)))  # Saturday, Sunday
    assert result.status == LuigiStatusCode.SUCCESS
    assert nse_server.requests == []


def test_range_daily_across_the_format_switch(data_dir, nse_server, run_tasks):
    """Legacy days then UDiFF days in one backfill; a missing session fails loudly, others land."""
    result = run_tasks(backfill(date(2022, 12, 1), date(2022, 12, 3)), backfill(date(2025, 6, 18), date(2025, 6, 20)))
    assert result.status == LuigiStatusCode.SUCCESS
    assert sorted(layout.lake_dates(data_dir, "cm")) == [date(2022, 12, 1), date(2022, 12, 2), *FIXTURE_DAYS]

    result = run_tasks(backfill(date(2025, 6, 18), date(2025, 6, 21)))  # 2025-06-20 has no file
    assert result.status == LuigiStatusCode.FAILED
    assert not layout.raw_path(data_dir, "cm", date(2025, 6, 20)).exists()


def test_bulk_complete_answers_from_one_listing(data_dir, nse_server, run_tasks):
    assert run_tasks(backfill(date(2025, 6, 18), date(2025, 6, 20))).status == LuigiStatusCode.SUCCESS
    days = [date(2025, 6, d) for d in range(16, 23)]
    done = BhavcopyETL.bulk_complete.__func__(lambda **kw: BhavcopyETL(load_to_clickhouse=False, **kw), days)
    # done: the two fixture days and the weekend; not done: 16th, 17th, 20th
    assert done == [date(2025, 6, 18), date(2025, 6, 19), date(2025, 6, 21), date(2025, 6, 22)]
    assert done == [d for d in days if BhavcopyETL(date=d, load_to_clickhouse=False).complete()]


def test_range_daily_settings_never_truncate_a_backfill_from_1994():
    from luigi.configuration import LuigiConfigParser

    parser = LuigiConfigParser()
    parser.read(os.path.join(REPO, "luigi.cfg"))
    days_back = parser.getint("RangeDaily", "days_back")
    task_limit = parser.getint("RangeDaily", "task_limit")
    assert days_back >= (date.today() - date(1994, 11, 3)).days  # NSE's first bhavcopy
    assert task_limit >= (date.today() - date(1994, 11, 3)).days


def luigi_retries_quickly(luigi_config, idle: str, status: int):
    """The shipped retry policy (keep_alive, per-stage attempts) with delays in tenths of a second.

    urllib3's own retries are off, so that every failed attempt is Luigi's; the archive answers
    `status` for the UDiFF fixture day."""
    luigi_config("worker", "keep_alive", "true")
    luigi_config("worker", "max_keep_alive_idle_duration", idle)
    luigi_config("scheduler", "retry_delay", "0.2")
    luigi_config("worker", "wait_interval", "0.1")
    luigi_config("worker", "wait_jitter", "0")
    luigi_config("nse", "http_retries", "0")
    return Fault(status=status, body=b"busy", content_type="text/plain")


def test_download_failing_twice_then_succeeding_is_retried_in_one_run(data_dir, nse_server, run_tasks, luigi_config):
    fault = luigi_retries_quickly(luigi_config, "20 seconds", 503)
    fault.times = 2
    nse_server.fault("BhavCopy_NSE_CM_0_0_0_20250618_F_0000.csv.zip",
                     fault)

    started = time.monotonic()
    result = run_tasks(BhavcopyETL(date=FIXTURE_DAYS[0], load_to_clickhouse=False))
    assert result.status == LuigiStatusCode.SUCCESS  # the stage's retries happen inside the day's run
    assert time.monotonic() - started < 15
    assert nse_server.paths_requested().count("/content/cm/BhavCopy_NSE_CM_0_0_0_20250618_F_0000.csv.zip") == 3
    assert layout.lake_path(data_dir, "cm", FIXTURE_DAYS[0]).exists()


def test_retries_are_bounded_by_the_stage_setting(data_dir, nse_server, run_tasks, luigi_config):
    fault = luigi_retries_quickly(luigi_config, "3 seconds", 503)
    luigi_config("retries", "download", "2")
    nse_server.fault("BhavCopy_NSE_CM_0_0_0_20250618_F_0000.csv.zip", fault)

    started = time.monotonic()
    result = run_tasks(BhavcopyETL(date=FIXTURE_DAYS[0], load_to_clickhouse=False))
    assert result.status == LuigiStatusCode.FAILED
    assert time.monotonic() - started < 15, "the run must end, not hang in keep_alive"
    assert nse_server.paths_requested().count("/content/cm/BhavCopy_NSE_CM_0_0_0_20250618_F_0000.csv.zip") == 2
    assert DownloadBhavcopy(date=FIXTURE_DAYS[0]).retry_count == 2


@pytest.fixture
def luigid(tmp_path):
    with running_luigid(tmp_path) as (port, url):
        yield port, url


def test_a_run_against_luigid_shows_tasks_done(data_dir, nse_server, luigid):
    port, url = luigid
    env = {**os.environ, "DATA_DIR": str(data_dir), "NSE_BASE_URL": nse_server.url, "MLFLOW_ENABLED": "false"}
    completed = subprocess.run(
        [sys.executable, "-m", "luigi", "--module", "luigi_tasks", "RangeDaily", "--of", "BhavcopyETL",
         "--start", "2025-06-18", "--stop", "2025-06-20", "--BhavcopyETL-load-to-clickhouse", "false",
         "--BhavcopyETL-datasets", '["cm"]',
         "--scheduler-host", "127.0.0.1", "--scheduler-port", str(port)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    with urllib.request.urlopen(url + "/api/task_list?" + urllib.parse.urlencode({"data": json.dumps({"status": "DONE"})})) as answer:
        tasks = json.load(answer)["response"]
    names = {task["name"] for task in tasks.values()}
    assert {"DownloadBhavcopy", "ParseBhavcopy", "NormalizeBhavcopy", "WriteParquet", "BhavcopyETL", "RangeDaily"} <= names
    done_days = {task["params"]["date"] for task in tasks.values() if task["name"] == "WriteParquet"}
    assert done_days == {"2025-06-18", "2025-06-19"}
    # long stages report what they do, and their progress, to the visualiser
    downloads = [task for task in tasks.values() if task["name"] == "DownloadBhavcopy"]
    assert {task["status_message"] for task in downloads} == {
        "Downloaded BhavCopy_NSE_CM_0_0_0_20250618_F_0000.csv via cm-udiff",
        "Downloaded BhavCopy_NSE_CM_0_0_0_20250619_F_0000.csv via cm-udiff",
    }
    assert {task["progress_percentage"] for task in downloads} == {100}


def test_range_daily_backfills_datasets_together(data_dir, nse_server, run_tasks):
    result = run_tasks(backfill(date(2025, 6, 18), date(2025, 6, 20), datasets=["cm", "delivery"]))
    assert result.status == LuigiStatusCode.SUCCESS
    for dataset in ("cm", "delivery"):
        assert sorted(layout.lake_dates(data_dir, dataset)) == FIXTURE_DAYS
    assert "/content/fo/" not in " ".join(nse_server.paths_requested())
