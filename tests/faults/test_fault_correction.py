"""A source correction whose redo is interrupted: the next run must still finish the redo.

README, "Rerun a day": delete raw/cm/<date>.zip to refetch a corrected file; that stage and every
stage after it run again. And: "the next run loads whatever was missed". These tests interrupt
that redo (ClickHouse down during the load; a kill -9 before Parse's write) and check that the
next run leaves the corrected rows in the lake and ClickHouse.

The warehouse faults themselves are covered in test_tasks_clickhouse.py: unreachable server
(test_unreachable_server_keeps_the_lake_and_the_next_run_loads), dropped table
(test_dropped_table_is_recreated_on_the_next_load), reload after a correction
(test_reload_after_a_source_correction_leaves_no_leftovers).
"""
import signal

import pytest
from luigi.execution_summary import LuigiStatusCode

from luigi_tasks import layout
from luigi_tasks.tasks import BhavcopyETL

from fault_helpers import (
    DAY, FILE, MEMBER, SOURCE_ROWS, STAGES, child_env, clickhouse_rows, csv_text, done_stages, free_port, lake_rows,
    launch, make_zip, no_mlflow, output_of,
)

pytestmark = pytest.mark.usefixtures("no_mlflow")

CORRECTED_ROWS = SOURCE_ROWS - 100


def correct_the_source(nse_server, data_dir):
    """NSE republishes the day with 100 rows fewer; the operator deletes the raw zip, as documented."""
    lines = csv_text().splitlines(keepends=True)
    nse_server.put(FILE, make_zip(MEMBER, "".join(lines[:-100])))
    layout.raw_path(data_dir, "cm", DAY).unlink()


def test_correction_with_clickhouse_down_then_next_run_loads(data_dir, nse_server, run_tasks, monkeypatch):
    assert run_tasks(BhavcopyETL(date=DAY)).status == LuigiStatusCode.SUCCESS
    assert clickhouse_rows() == SOURCE_ROWS
    correct_the_source(nse_server, data_dir)

    monkeypatch.setenv("CLICKHOUSE_HOST", "127.0.0.1")  # ClickHouse is down during the redo's load
    monkeypatch.setenv("CLICKHOUSE_PORT", str(free_port()))
    assert run_tasks(BhavcopyETL(date=DAY)).status == LuigiStatusCode.FAILED
    assert lake_rows(data_dir) == {DAY.isoformat(): CORRECTED_ROWS}

    monkeypatch.delenv("CLICKHOUSE_HOST")  # back up: "the next run loads whatever was missed"
    assert run_tasks(BhavcopyETL(date=DAY)).status == LuigiStatusCode.SUCCESS
    assert lake_rows(data_dir) == {DAY.isoformat(): CORRECTED_ROWS}
    assert clickhouse_rows() == CORRECTED_ROWS, "ClickHouse still holds the rows from before the correction"


def test_correction_killed_before_parse_then_next_run_redoes(tmp_path, data_dir, nse_server, run_tasks):
    assert run_tasks(BhavcopyETL(date=DAY, load_to_clickhouse=False)).status == LuigiStatusCode.SUCCESS
    correct_the_source(nse_server, data_dir)

    killed = launch(child_env(tmp_path, nse_server.url), "--kill", "parse",
                    args=["--module", "luigi_tasks", "BhavcopyETL", "--date", DAY.isoformat(),
                          "--load-to-clickhouse", "false", "--local-scheduler"])
    assert killed.returncode == -signal.SIGKILL, output_of(killed)[-3000:]
    assert layout.raw_path(data_dir, "cm", DAY).exists()  # the corrected file was fetched

    assert run_tasks(BhavcopyETL(date=DAY, load_to_clickhouse=False)).status == LuigiStatusCode.SUCCESS
    assert done_stages(data_dir) == STAGES[:-1]
    assert lake_rows(data_dir) == {DAY.isoformat(): CORRECTED_ROWS}, "the lake still holds the uncorrected rows"
