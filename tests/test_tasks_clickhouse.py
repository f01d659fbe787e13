"""LoadClickHouse through Luigi, on the real embedded engine: exact, idempotent, never blocking the lake."""
import json
import os
import socket
import subprocess
import sys

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from luigi.execution_summary import LuigiStatusCode

from luigi_tasks import layout, warehouse
from luigi_tasks.config import clickhouse
from luigi_tasks.tasks import BhavcopyETL

from tests.test_tasks import UDIFF_DAY, LEGACY_DAY, UDIFF_FILE, UDIFF_MEMBER, fixture_text, repack

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def engine():
    settings = clickhouse()
    return warehouse.connect(chdb_path=settings.chdb_path), settings.database, settings.table_for("cm")


def clickhouse_totals(day):
    client, database, table = engine()
    result = client.query(
        f"SELECT count(), sum(volume), sum(turnover), countIf(isin IS NULL), min(symbol), max(symbol) "
        f"FROM `{database}`.`{table}` WHERE trade_date = {{d:Date}}",
        parameters={"d": day},
    )
    return result.result_rows[0]


def lake_totals(root, day):
    table = pq.read_table(layout.lake_path(root, "cm", day))
    return (table.num_rows, pc.sum(table["volume"]).as_py(), pc.sum(table["turnover"]).as_py(),
            table["isin"].null_count, pc.min(table["symbol"]).as_py(), pc.max(table["symbol"]).as_py())


def assert_clickhouse_equals_lake(root, day):
    got, want = clickhouse_totals(day), lake_totals(root, day)
    assert got[0] == want[0] > 2000
    assert got[1] == want[1]
    assert got[2] == pytest.approx(want[2], rel=1e-12)
    assert got[3:] == want[3:]


def test_both_formats_load_with_counts_and_sums_equal_to_the_lake(data_dir, nse_server, run_tasks):
    assert run_tasks(BhavcopyETL(date=LEGACY_DAY), BhavcopyETL(date=UDIFF_DAY)).status == LuigiStatusCode.SUCCESS
    for day in (LEGACY_DAY, UDIFF_DAY):
        assert_clickhouse_equals_lake(data_dir, day)
        marker = json.loads(layout.loaded_marker_path(data_dir, "cm", day).read_text())
        assert marker["rows"] == clickhouse_totals(day)[0]
        assert marker["duration_seconds"] > 0
        assert marker["clickhouse"] == "embedded chdb"


def test_table_has_the_documented_shape(data_dir, nse_server, run_tasks):
    assert run_tasks(BhavcopyETL(date=UDIFF_DAY)).status == LuigiStatusCode.SUCCESS
    client, database, table = engine()
    ddl = client.command(f"SHOW CREATE TABLE `{database}`.`{table}`")
    assert "PARTITION BY toYYYYMM(trade_date)" in ddl
    assert "ORDER BY (trade_date, symbol, series)" in ddl
    columns = dict(warehouse.table_columns(client, database, table))
    assert columns["trade_date"] == "Date"
    assert columns["series"] == "LowCardinality(String)"
    assert columns["isin"] == "Nullable(String)" and columns["trades"] == "Nullable(Int64)"
    assert columns["close"] == "Nullable(Float64)" and columns["volume"] == "Nullable(Int64)"  # empty is null
    assert columns["symbol"] == "String"


def test_reload_is_idempotent(data_dir, nse_server, run_tasks):
    assert run_tasks(BhavcopyETL(date=UDIFF_DAY)).status == LuigiStatusCode.SUCCESS
    layout.loaded_marker_path(data_dir, "cm", UDIFF_DAY).unlink()
    assert run_tasks(BhavcopyETL(date=UDIFF_DAY)).status == LuigiStatusCode.SUCCESS
    assert_clickhouse_equals_lake(data_dir, UDIFF_DAY)
    assert clickhouse_totals(UDIFF_DAY)[0] == 2993


def test_reload_after_a_source_correction_leaves_no_leftovers(data_dir, nse_server, run_tasks):
    assert run_tasks(BhavcopyETL(date=UDIFF_DAY), BhavcopyETL(date=LEGACY_DAY)).status == LuigiStatusCode.SUCCESS
    other_before = clickhouse_totals(LEGACY_DAY)

    # NSE corrects the file: 100 rows fewer. The operator deletes the day's raw file to refetch it.
    lines = fixture_text(UDIFF_FILE).splitlines(keepends=True)
    nse_server.put(UDIFF_FILE, repack(UDIFF_MEMBER, "".join(lines[:-100])))
    layout.raw_path(data_dir, "cm", UDIFF_DAY).unlink()
    assert run_tasks(BhavcopyETL(date=UDIFF_DAY)).status == LuigiStatusCode.SUCCESS

    assert clickhouse_totals(UDIFF_DAY)[0] == 2993 - 100
    assert_clickhouse_equals_lake(data_dir, UDIFF_DAY)
    assert clickhouse_totals(LEGACY_DAY) == other_before


def test_dropped_table_is_recreated_on_the_next_load(data_dir, nse_server, run_tasks):
    assert run_tasks(BhavcopyETL(date=UDIFF_DAY)).status == LuigiStatusCode.SUCCESS
    client, database, table = engine()
    client.command(f"DROP TABLE `{database}`.`{table}`")
    layout.loaded_marker_path(data_dir, "cm", UDIFF_DAY).unlink()
    assert run_tasks(BhavcopyETL(date=UDIFF_DAY)).status == LuigiStatusCode.SUCCESS
    assert_clickhouse_equals_lake(data_dir, UDIFF_DAY)


def closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_unreachable_server_keeps_the_lake_and_the_next_run_loads(data_dir, nse_server, run_tasks, monkeypatch):
    port = closed_port()
    monkeypatch.setenv("CLICKHOUSE_HOST", "127.0.0.1")
    monkeypatch.setenv("CLICKHOUSE_PORT", str(port))
    monkeypatch.setenv("CLICKHOUSE_PASSWORD", "pw-never-shown")
    result = run_tasks(BhavcopyETL(date=LEGACY_DAY), BhavcopyETL(date=UDIFF_DAY))
    assert result.status == LuigiStatusCode.FAILED
    for day in (LEGACY_DAY, UDIFF_DAY):
        assert layout.lake_path(data_dir, "cm", day).exists()
        assert not layout.loaded_marker_path(data_dir, "cm", day).exists()
    assert list(data_dir.glob("loaded/cm/*")) == []

    monkeypatch.delenv("CLICKHOUSE_HOST")  # back to the embedded engine: the missed loads happen
    requests_before = len(nse_server.requests)
    assert run_tasks(BhavcopyETL(date=LEGACY_DAY), BhavcopyETL(date=UDIFF_DAY)).status == LuigiStatusCode.SUCCESS
    assert len(nse_server.requests) == requests_before
    for day in (LEGACY_DAY, UDIFF_DAY):
        assert_clickhouse_equals_lake(data_dir, day)


def test_cli_exits_non_zero_naming_the_host_and_never_the_password(data_dir, nse_server, tmp_path):
    """The shipped luigi.cfg's retry policy, with the delay shortened: 3 load attempts, then exit 30."""
    port = closed_port()
    quick = tmp_path / "quick.cfg"
    quick.write_text("[scheduler]\nretry_delay = 0.2\n[worker]\nwait_interval = 0.1\nwait_jitter = 0\n"
                     "max_keep_alive_idle_duration = 5 seconds\n")
    env = {**os.environ, "DATA_DIR": str(data_dir), "NSE_BASE_URL": nse_server.url, "MLFLOW_ENABLED": "false",
           "CLICKHOUSE_HOST": "127.0.0.1", "CLICKHOUSE_PORT": str(port), "CLICKHOUSE_PASSWORD": "pw-never-shown",
           "LUIGI_CONFIG_PATH": str(quick)}
    completed = subprocess.run(
        [sys.executable, "-m", "luigi", "--module", "luigi_tasks", "BhavcopyETL", "--date", "2025-06-18",
         "--datasets", '["cm"]', "--local-scheduler"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 30, output[-2000:]  # [retcode] task_failed
    assert f"cannot connect to ClickHouse at 127.0.0.1:{port}" in output
    assert "pw-never-shown" not in output
    failures = [line for line in output.splitlines() if "LoadClickHouse_cm_2025_06_18" in line and "FAILED" in line]
    assert len(failures) == 3, "three load attempts, as [retries] load = 3"
    assert layout.lake_path(data_dir, "cm", UDIFF_DAY).exists()
    assert not layout.loaded_marker_path(data_dir, "cm", UDIFF_DAY).exists()


def test_a_table_named_in_the_settings_is_where_its_dataset_loads(data_dir, nse_server, run_tasks, luigi_config):
    luigi_config("clickhouse", "tables", '{"cm": "eq_bhavcopy"}')
    assert (clickhouse().table_for("cm"), clickhouse().table_for("actions")) == ("eq_bhavcopy", "corporate_actions_listed")
    assert run_tasks(BhavcopyETL(date=UDIFF_DAY)).status == LuigiStatusCode.SUCCESS
    client, database, _ = engine()
    tables = {name for (name,) in client.query("SELECT name FROM system.tables WHERE database = {db:String}",
                                                parameters={"db": database}).result_rows}
    assert "eq_bhavcopy" in tables and "cm_bhavcopy" not in tables
    assert_clickhouse_equals_lake(data_dir, UDIFF_DAY)  # engine() reads table_for: eq_bhavcopy
    marker = json.loads(layout.loaded_marker_path(data_dir, "cm", UDIFF_DAY).read_text())
    assert marker["table"] == f"{database}.eq_bhavcopy"


def test_a_table_setting_naming_no_dataset_is_refused(luigi_config):
    luigi_config("clickhouse", "tables", '{"cmx": "eq_bhavcopy"}')
    with pytest.raises(ValueError, match=r"^\[clickhouse\] tables names unknown datasets \['cmx'\]; known: \['actions'"):
        clickhouse().table_for("cm")
