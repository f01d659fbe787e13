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
import json
import signal

import pytest
from luigi.execution_summary import LuigiStatusCode

from luigi_tasks import layout
from luigi_tasks.tasks import BhavcopyETL

from tests.faults.fault_helpers import (
    DAY, FILE, LEGACY_FALLBACK, MEMBER, SOURCE_ROWS, STAGES, child_env, clickhouse_rows, csv_text, done_stages,
    lake_rows, launch, luigi_failures, make_zip, no_mlflow, output_of,
)
from tests.support import free_port
from tests.nse_server import Fault

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


# ---- a redo that fails leaves the good day exactly as it was ----

def snapshot(root):
    """What a reader of the day sees: the lake file's and the load marker's bytes, ClickHouse's rows."""
    return {"lake": layout.lake_path(root, "cm", DAY).read_bytes(),
            "marker": layout.loaded_marker_path(root, "cm", DAY).read_bytes(),
            "lake_rows": lake_rows(root), "clickhouse": clickhouse_rows()}


def bad_refetch(nse_server, case):
    text = csv_text()
    if case == "block-page":
        nse_server.fault(FILE, Fault(status=200, body=b"<!DOCTYPE html><html>Access Denied</html>",
                                     content_type="text/html"))
        nse_server.fault(LEGACY_FALLBACK, Fault(status=403, body=b"denied", content_type="text/html"))
        return "HTML page"
    if case == "archive-404":
        nse_server.remove(FILE)
        return "no bhavcopy published"
    header, *rows = text.splitlines()
    if case == "schema-drift":
        nse_server.put(FILE, make_zip(MEMBER, "\n".join([header + ",NewCol", *(row + ",1" for row in rows)]) + "\n"))
        return "schema drift"
    columns = header.split(",")
    fields = rows[10].split(",")
    fields[columns.index("TtlTradgVol")] = "12x"
    rows[10] = ",".join(fields)
    nse_server.put(FILE, make_zip(MEMBER, "\n".join([header, *rows]) + "\n"))
    return "cannot read as udiff CSV"


@pytest.mark.parametrize("case", ["block-page", "archive-404", "schema-drift", "number-that-does-not-parse"])
def test_failed_refetch_keeps_the_lake_clickhouse_and_marker(data_dir, nse_server, run_tasks, case):
    assert run_tasks(BhavcopyETL(date=DAY)).status == LuigiStatusCode.SUCCESS
    before = snapshot(data_dir)
    assert before["clickhouse"] == SOURCE_ROWS
    layout.raw_path(data_dir, "cm", DAY).unlink()  # README, "Rerun a day": refetch a corrected file
    problem = bad_refetch(nse_server, case)

    with luigi_failures() as failed:
        assert run_tasks(BhavcopyETL(date=DAY)).status == LuigiStatusCode.FAILED
    assert [family for family, _ in failed] == ["DownloadBhavcopy"]
    message = str(failed[0][1])
    assert DAY.isoformat() in message and problem in message, message
    assert snapshot(data_dir) == before  # the same lake bytes, marker bytes and ClickHouse rows
    assert done_stages(data_dir) == STAGES[1:]  # only the raw file is missing: the redo is still pending
    assert not layout.raw_path(data_dir, "cm", DAY).exists()

    nse_server.faults.clear()  # NSE serves its corrected file: the next run finishes the redo
    nse_server.put(FILE, make_zip(MEMBER, "".join(csv_text().splitlines(keepends=True)[:-100])))
    assert run_tasks(BhavcopyETL(date=DAY)).status == LuigiStatusCode.SUCCESS
    assert lake_rows(data_dir) == {DAY.isoformat(): CORRECTED_ROWS}
    assert clickhouse_rows() == CORRECTED_ROWS
    assert json.loads(layout.loaded_marker_path(data_dir, "cm", DAY).read_text())["rows"] == CORRECTED_ROWS


def test_kill_mid_redo_keeps_the_old_lake_readable_until_the_rerun_replaces_it(tmp_path, data_dir, nse_server,
                                                                               run_tasks):
    assert run_tasks(BhavcopyETL(date=DAY, load_to_clickhouse=False)).status == LuigiStatusCode.SUCCESS
    old_lake = layout.lake_path(data_dir, "cm", DAY).read_bytes()
    correct_the_source(nse_server, data_dir)

    killed = launch(child_env(tmp_path, nse_server.url), "--kill", "write",
                    args=["--module", "luigi_tasks", "BhavcopyETL", "--date", DAY.isoformat(),
                          "--load-to-clickhouse", "false", "--local-scheduler"])
    assert killed.returncode == -signal.SIGKILL, output_of(killed)[-3000:]
    # killed while publishing the corrected day: the old lake file is still whole and readable
    assert layout.lake_path(data_dir, "cm", DAY).read_bytes() == old_lake
    assert lake_rows(data_dir) == {DAY.isoformat(): SOURCE_ROWS}
    assert done_stages(data_dir) == STAGES[:3]  # the lake's seal went before the swap: WriteParquet is to redo

    assert run_tasks(BhavcopyETL(date=DAY, load_to_clickhouse=False)).status == LuigiStatusCode.SUCCESS
    assert lake_rows(data_dir) == {DAY.isoformat(): CORRECTED_ROWS}
    assert done_stages(data_dir) == STAGES[:-1]
