"""The status command: one line per date, the first missing stage, and an exit code for monitoring."""
import os
import subprocess
import sys
from datetime import date

from luigi.execution_summary import LuigiStatusCode

from luigi_tasks import layout
from luigi_tasks.__main__ import main
from luigi_tasks.tasks import BhavcopyETL

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_status_lines_and_exit_code(data_dir, nse_server, run_tasks, capsys):
    day = date(2025, 6, 18)
    assert run_tasks(BhavcopyETL(date=day, load_to_clickhouse=False)).status == LuigiStatusCode.SUCCESS

    code = main(["status", "--start", "2025-06-18", "--stop", "2025-06-23", "--load-to-clickhouse", "false"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 1
    assert lines[0] == "2025-06-18  cm       done       2,993 rows  via cm-udiff"
    assert lines[1] == "2025-06-19  cm       missing  from DownloadBhavcopy"
    assert lines[3:5] == ["2025-06-21  cm       closed", "2025-06-22  cm       closed"]
    assert lines[-1] == "summary: 3 session-days in [2025-06-18, 2025-06-23): 1 done, 2 missing; 2 closed"


def test_status_names_the_first_missing_stage(data_dir, nse_server, run_tasks, capsys):
    day = date(2025, 6, 18)
    assert run_tasks(BhavcopyETL(date=day, load_to_clickhouse=False)).status == LuigiStatusCode.SUCCESS
    layout.lake_path(data_dir, "cm", day).unlink()
    layout.normalized_path(data_dir, "cm", day).unlink()
    assert main(["status", "--start", "2025-06-18", "--stop", "2025-06-19", "--load-to-clickhouse", "false"]) == 1
    assert capsys.readouterr().out.splitlines()[0] == "2025-06-18  cm       missing  from NormalizeBhavcopy  via cm-udiff"


def test_status_exits_zero_when_every_session_is_done(data_dir, nse_server, run_tasks):
    days = [date(2022, 12, 1), date(2022, 12, 2)]
    assert run_tasks(*[BhavcopyETL(date=d, load_to_clickhouse=False) for d in days]).status == LuigiStatusCode.SUCCESS
    completed = subprocess.run(
        [sys.executable, "-m", "luigi_tasks", "status", "--start", "2022-12-01", "--stop", "2022-12-05",
         "--load-to-clickhouse", "false", "--dataset", "cm"],
        cwd=REPO, env={**os.environ, "DATA_DIR": str(data_dir)}, capture_output=True, text=True, timeout=60,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert completed.stdout.splitlines()[-1] == "summary: 2 session-days in [2022-12-01, 2022-12-05): 2 done, 0 missing; 2 closed"
    assert "2022-12-01  cm       done       2,339 rows  via cm-legacy" in completed.stdout
