"""The warehouse module against a real embedded ClickHouse (chdb), fed from NSE's own files.

chdb hosts one engine folder per process, so the module shares one folder and gives
each test its own database; the engine is released at the end so that other test
modules may open their own folder.
"""
import datetime as dt
import os
import re
import signal
import socket
import subprocess
import sys
import time
import traceback
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pytest

from luigi_tasks import warehouse
from luigi_tasks.schema import CM_BHAVCOPY
from luigi_tasks.warehouse import WarehouseError

DATA = Path(__file__).parent / "data"
JUNE_18 = dt.date(2025, 6, 18)
JUNE_19 = dt.date(2025, 6, 19)
TABLE = "cm_bhavcopy"

# UDiFF column for each canonical one; source_format is added.
UDIFF_COLUMNS = {
    "trade_date": "TradDt",
    "symbol": "TckrSymb",
    "series": "SctySrs",
    "isin": "ISIN",
    "open": "OpnPric",
    "high": "HghPric",
    "low": "LwPric",
    "close": "ClsPric",
    "last": "LastPric",
    "prev_close": "PrvsClsgPric",
    "volume": "TtlTradgVol",
    "turnover": "TtlTrfVal",
    "trades": "TtlNbOfTxsExctd",
}


def udiff_rows(day: dt.date) -> pa.Table:
    """The CM bhavcopy NSE published for `day`, in the canonical schema."""
    path = DATA / f"BhavCopy_NSE_CM_0_0_0_{day:%Y%m%d}_F_0000.csv.zip"
    with zipfile.ZipFile(path) as archive, archive.open(archive.namelist()[0]) as member:
        types = {field.name: field.type for field in CM_BHAVCOPY}
        raw = pcsv.read_csv(
            member,
            convert_options=pcsv.ConvertOptions(
                include_columns=list(UDIFF_COLUMNS.values()),
                column_types={source: types[name] for name, source in UDIFF_COLUMNS.items()},
            ),
        )
    columns = [raw[UDIFF_COLUMNS[f.name]] for f in CM_BHAVCOPY if f.name != "source_format"]
    columns.append(pa.array(["udiff"] * raw.num_rows, pa.string()))
    return pa.Table.from_arrays(columns, schema=CM_BHAVCOPY)


@pytest.fixture(scope="session")
def june_18():
    return udiff_rows(JUNE_18)


@pytest.fixture(scope="session")
def june_19():
    return udiff_rows(JUNE_19)


@pytest.fixture(scope="module")
def client(chdb_path):
    client = warehouse.connect(chdb_path=str(chdb_path))
    yield client
    warehouse.close_embedded()


@pytest.fixture
def database(request, client):
    """A database of its own per test, named after it."""
    name = re.sub(r"\W", "_", f"t_{request.node.name}", flags=re.ASCII)[:63]
    yield name
    client.command(f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture
def table(client, database):
    warehouse.ensure_table(client, database, TABLE, CM_BHAVCOPY)
    return TABLE


def totals(client, database, day):
    """count, sum(volume), sum(turnover) that ClickHouse holds for one day."""
    return client.query(
        f"SELECT count(), sum(volume), sum(turnover) FROM `{database}`.`{TABLE}` WHERE trade_date = {{d:Date}}",
        parameters={"d": day},
    ).result_rows[0]


def arrow_totals(rows):
    return rows.num_rows, pc.sum(rows["volume"]).as_py(), pc.sum(rows["turnover"]).as_py()


def assert_holds(client, database, day, rows):
    count, volume, turnover = totals(client, database, day)
    expected_count, expected_volume, expected_turnover = arrow_totals(rows)
    assert (count, volume) == (expected_count, expected_volume)
    assert turnover == pytest.approx(expected_turnover, rel=1e-12)


@pytest.mark.parametrize("name", ["nse; DROP TABLE x", "1abc", "a-b", "", "a" * 64, "`nse`", "nse.cm", "é"])
def test_invalid_identifiers_are_rejected_before_any_sql(client, name):
    with pytest.raises(ValueError, match=re.escape(repr(name))):
        warehouse.validate_identifier(name)
    with pytest.raises(ValueError, match="invalid ClickHouse identifier"):
        warehouse.ensure_table(client, name, TABLE, CM_BHAVCOPY)
    with pytest.raises(ValueError, match="invalid ClickHouse identifier"):
        warehouse.count_day(client, "nse", name, JUNE_18)


@pytest.mark.parametrize("name", ["nse", "_x", "cm_bhavcopy", "A1", "a" * 63])
def test_plain_identifiers_are_accepted(name):
    assert warehouse.validate_identifier(name) == name


def test_ensure_table_derives_column_types_from_the_arrow_schema(client, database):
    warehouse.ensure_table(client, database, TABLE, CM_BHAVCOPY)
    warehouse.ensure_table(client, database, TABLE, CM_BHAVCOPY)  # a second run changes nothing

    columns = client.query(
        "SELECT name, type FROM system.columns WHERE database = {db:String} AND table = {t:String} ORDER BY position",
        parameters={"db": database, "t": TABLE},
    ).result_rows
    assert columns == [
        ("trade_date", "Date"),
        ("symbol", "String"),
        ("series", "LowCardinality(String)"),
        ("isin", "Nullable(String)"),
        ("open", "Nullable(Float64)"),  # value columns are nullable: NSE leaves some empty (schema.py)
        ("high", "Nullable(Float64)"),
        ("low", "Nullable(Float64)"),
        ("close", "Nullable(Float64)"),
        ("last", "Nullable(Float64)"),
        ("prev_close", "Nullable(Float64)"),
        ("volume", "Nullable(Int64)"),
        ("turnover", "Nullable(Float64)"),
        ("trades", "Nullable(Int64)"),
        ("source_format", "LowCardinality(String)"),
    ]
    engine = client.query(
        "SELECT engine, partition_key, sorting_key FROM system.tables WHERE database = {db:String} AND name = {t:String}",
        parameters={"db": database, "t": TABLE},
    ).result_rows
    assert engine == [("MergeTree", "toYYYYMM(trade_date)", "trade_date, symbol, series")]


def test_an_existing_table_of_another_shape_is_refused(client, database):
    client.command(f"CREATE DATABASE `{database}`")
    client.command(f"CREATE TABLE `{database}`.`{TABLE}` (trade_date Date, symbol String) ENGINE = MergeTree ORDER BY trade_date")
    with pytest.raises(WarehouseError, match=f"{database}.{TABLE} exists with columns"):
        warehouse.ensure_table(client, database, TABLE, CM_BHAVCOPY)


def test_a_day_loads_with_the_source_counts_and_sums(client, database, table, june_18):
    assert warehouse.count_day(client, database, table, JUNE_18) == 0

    assert warehouse.load_day(client, database, table, june_18, JUNE_18) == june_18.num_rows == 2993

    assert_holds(client, database, JUNE_18, june_18)
    nulls = client.query(f"SELECT countIf(isin IS NULL), countIf(trades IS NULL) FROM `{database}`.`{table}`").result_rows
    assert nulls == [(june_18["isin"].null_count, june_18["trades"].null_count)]


def test_loading_the_same_day_twice_leaves_no_duplicates(client, database, table, june_18):
    warehouse.load_day(client, database, table, june_18, JUNE_18)
    assert warehouse.load_day(client, database, table, june_18, JUNE_18) == june_18.num_rows

    assert_holds(client, database, JUNE_18, june_18)
    duplicates = client.command(
        f"SELECT count() FROM (SELECT symbol, series FROM `{database}`.`{table}` GROUP BY symbol, series HAVING count() > 1)"
    )
    assert duplicates == 0


def test_a_reload_holds_exactly_the_changed_source(client, database, table, june_18):
    warehouse.load_day(client, database, table, june_18, JUNE_18)
    dropped = june_18.slice(0, 100)
    changed = june_18.slice(100)
    close = changed["close"].to_pylist()
    close[0] = 12345.5
    changed = changed.set_column(changed.schema.get_field_index("close"), CM_BHAVCOPY.field("close"), pa.array(close))

    assert warehouse.load_day(client, database, table, changed, JUNE_18) == june_18.num_rows - 100

    assert_holds(client, database, JUNE_18, changed)
    symbol, series = changed["symbol"][0].as_py(), changed["series"][0].as_py()
    assert client.query(
        f"SELECT close FROM `{database}`.`{table}` WHERE symbol = {{s:String}} AND series = {{r:String}}",
        parameters={"s": symbol, "r": series},
    ).result_rows == [(12345.5,)]
    leftovers = client.command(
        f"SELECT count() FROM `{database}`.`{table}` WHERE (symbol, series) IN {{keys:Array(Tuple(String, String))}}",
        parameters={"keys": list(zip(dropped["symbol"].to_pylist(), dropped["series"].to_pylist()))},
    )
    assert leftovers == 0


def test_a_reload_leaves_other_dates_untouched(client, database, table, june_18, june_19):
    warehouse.load_day(client, database, table, june_18, JUNE_18)
    warehouse.load_day(client, database, table, june_19, JUNE_19)
    before = totals(client, database, JUNE_19)

    warehouse.load_day(client, database, table, june_18.slice(0, 500), JUNE_18)

    assert totals(client, database, JUNE_19) == before
    assert_holds(client, database, JUNE_19, june_19)
    assert warehouse.count_day(client, database, table, JUNE_18) == 500


def test_a_reload_that_fails_leaves_the_previous_rows_and_no_scratch_table(client, database, table, june_18,
                                                                           june_19):
    warehouse.load_day(client, database, table, june_18, JUNE_18)
    warehouse.load_day(client, database, table, june_19, JUNE_19)
    broken = june_18.slice(0, 50).append_column("no_such_column", pa.array([1] * 50))  # the scratch insert fails

    with pytest.raises(Exception, match="no_such_column"):
        warehouse.load_day(client, database, table, broken, JUNE_18)

    assert_holds(client, database, JUNE_18, june_18)
    assert_holds(client, database, JUNE_19, june_19)
    assert client.command(f"SELECT count() FROM system.tables WHERE database = '{database}'") == 1


def test_a_dropped_table_is_recreated_by_the_next_load(client, database, table, june_18):
    warehouse.load_day(client, database, table, june_18, JUNE_18)
    client.command(f"DROP TABLE `{database}`.`{table}`")

    warehouse.ensure_table(client, database, table, CM_BHAVCOPY)
    assert warehouse.load_day(client, database, table, june_18, JUNE_18) == june_18.num_rows
    assert_holds(client, database, JUNE_18, june_18)


def test_rows_of_another_date_are_rejected_and_nothing_changes(client, database, table, june_18, june_19):
    warehouse.load_day(client, database, table, june_18, JUNE_18)
    mixed = pa.concat_tables([june_18.slice(0, 10), june_19.slice(0, 10)])

    with pytest.raises(ValueError, match="2025-06-18 contain other dates: 2025-06-18 to 2025-06-19"):
        warehouse.load_day(client, database, table, mixed, JUNE_18)
    with pytest.raises(ValueError, match="2025-06-19 contain other dates"):
        warehouse.load_day(client, database, table, june_18, JUNE_19)
    with pytest.raises(ValueError, match="refusing to replace 2025-06-18 with no rows"):
        warehouse.load_day(client, database, table, june_18.slice(0, 0), JUNE_18)

    assert_holds(client, database, JUNE_18, june_18)
    assert warehouse.count_day(client, database, table, JUNE_19) == 0


def test_a_count_that_differs_from_the_rows_loaded_is_an_error(client, database, june_18):
    """A table of the right shape that keeps nothing (engine Null) stands in for lost rows."""
    columns = ", ".join(f"`{name}` {ch_type}" for name, ch_type in warehouse.clickhouse_columns(CM_BHAVCOPY))
    client.command(f"CREATE DATABASE `{database}`")
    client.command(f"CREATE TABLE `{database}`.`{TABLE}` ({columns}) ENGINE = Null")
    warehouse.ensure_table(client, database, TABLE, CM_BHAVCOPY)

    with pytest.raises(WarehouseError, match=f"{database}.{TABLE} holds 0 rows for 2025-06-18 after loading 2993"):
        warehouse.load_day(client, database, TABLE, june_18, JUNE_18)


def test_health_check_passes_on_the_embedded_engine(client):
    warehouse.health_check(client)


def test_one_engine_folder_per_process(client, chdb_path, tmp_path):
    assert warehouse.connect(chdb_path=f"{chdb_path}/") is client  # one folder, however spelled

    with pytest.raises(WarehouseError, match="one engine folder per process") as caught:
        warehouse.connect(chdb_path=str(tmp_path / "elsewhere"))
    assert str(chdb_path) in str(caught.value) and str(tmp_path / "elsewhere") in str(caught.value)


def test_a_forked_child_is_refused_the_parents_engine_instead_of_hanging(client, chdb_path):
    """Luigi's multi-worker mode forks; chdb used across a fork deadlocks."""
    pid = os.fork()
    if pid == 0:
        try:
            warehouse.connect(chdb_path=str(chdb_path))
        except WarehouseError as exc:
            os._exit(3 if "before this process forked" in str(exc) else 2)
        except BaseException:
            os._exit(2)
        os._exit(1)
    deadline = time.monotonic() + 20
    while (status := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    if status[0] == 0:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail("the forked child hung")
    assert os.waitstatus_to_exitcode(status[1]) == 3


def test_a_second_process_on_the_same_folder_is_told_who_holds_it(client, chdb_path):
    """The package is registered without running its __init__, so the child skips luigi's import."""
    package = Path(warehouse.__file__).parent
    child = (
        "import importlib, importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('luigi_tasks', {str(package / '__init__.py')!r}, "
        f"submodule_search_locations=[{str(package)!r}])\n"
        "sys.modules['luigi_tasks'] = importlib.util.module_from_spec(spec)\n"
        "warehouse = importlib.import_module('luigi_tasks.warehouse')\n"
        "try:\n"
        f"    warehouse.connect(chdb_path={str(chdb_path)!r})\n"
        "except warehouse.WarehouseError as exc:\n"
        "    print(exc); sys.exit(3)\n"
    )
    result = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=60)

    assert result.returncode == 3, result.stderr
    assert f"cannot open the embedded ClickHouse at {chdb_path}" in result.stdout
    assert "one process per chdb folder" in result.stdout


def test_an_unreachable_server_fails_fast_without_revealing_the_password():
    password = "pw-Zq81-never-shown"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    started = time.monotonic()
    with pytest.raises(WarehouseError) as caught:
        warehouse.connect(host="127.0.0.1", port=port, user="loader", password=password, connect_timeout=2)
    assert time.monotonic() - started < 5

    error = caught.value
    assert f"127.0.0.1:{port}" in str(error)
    assert "refused" in str(error).lower()
    chain = "".join(traceback.format_exception(error))
    for text in (str(error), repr(error), chain):
        assert password not in text
    assert error.__cause__ is None and error.__context__ is None


# replace_day: a whole load, with what it has checked remembered per process.

@pytest.fixture
def endpoint(client, chdb_path):
    """The module's engine folder, as LoadClickHouse names it; nothing is ready in it for a new test."""
    warehouse.forget_ready()
    yield warehouse.Endpoint("", 0, "", "", False, str(chdb_path), 1, 5)
    warehouse.forget_ready()


def test_replace_day_loads_reloads_and_counts_exactly(client, database, endpoint, june_18, june_19):
    assert warehouse.replace_day(endpoint, database, TABLE, june_18, JUNE_18, CM_BHAVCOPY) == 2993
    assert warehouse.replace_day(endpoint, database, TABLE, june_19, JUNE_19, CM_BHAVCOPY) == june_19.num_rows
    assert warehouse.replace_day(endpoint, database, TABLE, june_18.slice(0, 500), JUNE_18, CM_BHAVCOPY) == 500
    assert warehouse.replace_day(endpoint, database, TABLE, june_18, JUNE_18, CM_BHAVCOPY) == 2993

    assert_holds(client, database, JUNE_18, june_18)
    assert_holds(client, database, JUNE_19, june_19)
    assert client.command(f"SELECT count() FROM system.tables WHERE database = '{database}'") == 1


def test_replace_day_checks_the_table_and_makes_the_views_once_per_process(client, database, endpoint, june_18,
                                                                            june_19):
    views = []
    warehouse.replace_day(endpoint, database, TABLE, june_18, JUNE_18, CM_BHAVCOPY, views=views.append)
    # A column added behind our back is not looked for again in this process: the loads go on.
    client.command(f"ALTER TABLE `{database}`.`{TABLE}` ADD COLUMN extra Nullable(Int64)")
    warehouse.replace_day(endpoint, database, TABLE, june_19, JUNE_19, CM_BHAVCOPY, views=views.append)
    warehouse.replace_day(endpoint, database, TABLE, june_18, JUNE_18, CM_BHAVCOPY, views=views.append)
    assert views == [client]
    assert_holds(client, database, JUNE_19, june_19)
    assert_holds(client, database, JUNE_18, june_18)

    warehouse.forget_ready()  # as a new process starts: the table is checked again, and refused
    with pytest.raises(WarehouseError, match=f"{database}.{TABLE} exists with columns .*'extra'"):
        warehouse.replace_day(endpoint, database, TABLE, june_19, JUNE_19, CM_BHAVCOPY, views=views.append)
    assert views == [client]


def test_a_table_dropped_mid_process_is_made_again_by_the_retry(client, database, endpoint, june_18, june_19):
    views = []
    warehouse.replace_day(endpoint, database, TABLE, june_18, JUNE_18, CM_BHAVCOPY, views=views.append)
    warehouse.replace_day(endpoint, database, TABLE, june_19, JUNE_19, CM_BHAVCOPY, views=views.append)
    client.command(f"DROP TABLE `{database}`.`{TABLE}`")

    # The cache says June 18 is held: the reload fails on the missing table, then runs from the checks.
    assert warehouse.replace_day(endpoint, database, TABLE, june_18, JUNE_18, CM_BHAVCOPY, views=views.append) == 2993
    assert_holds(client, database, JUNE_18, june_18)
    assert warehouse.count_day(client, database, TABLE, JUNE_19) == 0
    assert views == [client, client]


def redated(rows: pa.Table, day: dt.date) -> pa.Table:
    return rows.set_column(0, CM_BHAVCOPY.field("trade_date"), pa.array([day] * rows.num_rows, pa.date32()))


def test_a_table_loaded_before_this_process_is_known_by_its_parts(client, database, endpoint, june_18, june_19):
    """One part spanning June 18 to 25 (one insert of both days, as an earlier process may leave it):
    June 25 inside it is counted and replaced, June 19 inside it is counted and inserted, July 1
    after every part is inserted without a count."""
    june_25, july_1 = dt.date(2025, 6, 25), dt.date(2025, 7, 1)
    warehouse.ensure_table(client, database, TABLE, CM_BHAVCOPY)
    client.insert_arrow(TABLE, pa.concat_tables([june_18, redated(june_19, june_25)]), database=database)

    for rows, day in ((redated(june_18, june_25), june_25), (june_19, JUNE_19), (redated(june_19, july_1), july_1)):
        assert warehouse.replace_day(endpoint, database, TABLE, rows, day, CM_BHAVCOPY) == rows.num_rows
    assert_holds(client, database, JUNE_18, june_18)
    assert_holds(client, database, june_25, redated(june_18, june_25))
    assert_holds(client, database, JUNE_19, june_19)
    assert_holds(client, database, july_1, redated(june_19, july_1))


def test_rows_deleted_mid_process_are_replaced_not_lost(client, database, endpoint, june_18):
    warehouse.replace_day(endpoint, database, TABLE, june_18, JUNE_18, CM_BHAVCOPY)
    client.command(f"TRUNCATE TABLE `{database}`.`{TABLE}`")
    assert warehouse.replace_day(endpoint, database, TABLE, june_18, JUNE_18, CM_BHAVCOPY) == 2993
    assert_holds(client, database, JUNE_18, june_18)


def test_replace_day_refuses_a_bad_day_before_touching_clickhouse(client, database, endpoint, june_18, june_19):
    mixed = pa.concat_tables([june_18.slice(0, 10), june_19.slice(0, 10)])
    with pytest.raises(ValueError, match="2025-06-18 contain other dates"):
        warehouse.replace_day(endpoint, database, TABLE, mixed, JUNE_18, CM_BHAVCOPY)
    assert client.command(f"SELECT count() FROM system.databases WHERE name = '{database}'") == 0


def test_replace_day_counts_a_table_of_another_engine(client, database, endpoint, june_18):
    """The insert's own count is trusted only on the MergeTree that ensure_table makes; engine Null
    stands in for a table that loses rows, as in the count test above."""
    columns = ", ".join(f"`{name}` {ch_type}" for name, ch_type in warehouse.clickhouse_columns(CM_BHAVCOPY))
    client.command(f"CREATE DATABASE `{database}`")
    client.command(f"CREATE TABLE `{database}`.`{TABLE}` ({columns}) ENGINE = Null")
    with pytest.raises(WarehouseError, match=f"{database}.{TABLE} holds 0 rows for 2025-06-18 after loading 2993"):
        warehouse.replace_day(endpoint, database, TABLE, june_18, JUNE_18, CM_BHAVCOPY)


CHILD_LOADS = """
import sys
sys.path.insert(0, {tests!r})
from test_warehouse import udiff_rows, JUNE_18, JUNE_19, TABLE
from luigi_tasks import warehouse
from luigi_tasks.schema import CM_BHAVCOPY
endpoint = warehouse.Endpoint("", 0, "", "", False, {folder!r}, 1, 30)
step = sys.argv[1]
if step == "other":
    client = warehouse.connect(chdb_path={folder!r})
    print(warehouse.load_day(client, "db", TABLE, udiff_rows(JUNE_18), JUNE_18))
    sys.exit(0)
import subprocess
warehouse.replace_day(endpoint, "db", TABLE, udiff_rows(JUNE_19), JUNE_19, CM_BHAVCOPY)
warehouse._lease.release()  # what a load does when another process waits for the engine
subprocess.run([sys.executable, "-c", sys.argv[2], "other"], check=True)
warehouse.replace_day(endpoint, "db", TABLE, udiff_rows(JUNE_18), JUNE_18, CM_BHAVCOPY)
client = warehouse.connect(chdb_path={folder!r})
print(warehouse.count_day(client, "db", TABLE, JUNE_18), warehouse.count_day(client, "db", TABLE, JUNE_19))
"""


def test_what_another_process_loaded_while_the_engine_was_let_go_is_seen(tmp_path):
    """A process that let go of the engine forgets what it knew: June 18, loaded meanwhile by another
    process, is replaced (not inserted twice) by this one's next load."""
    script = CHILD_LOADS.format(tests=str(Path(__file__).parent), folder=str(tmp_path / "engine"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(warehouse.__file__).parent.parent),
                                                        os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-c", script, "main", script], capture_output=True, text=True,
                            timeout=120, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["2993", "2993", str(udiff_rows(JUNE_19).num_rows)]


# replace_days: a batch's loads, the days new to the table in one insert.

def parts_of(client, database):
    return sorted(client.query(f"SELECT min_date, max_date, rows FROM system.parts WHERE database = '{database}' "
                               f"AND table = '{TABLE}' AND active").result_rows)


def test_replace_days_inserts_the_new_days_together_and_replaces_a_day_present(client, database, endpoint,
                                                                               june_18, june_19):
    june_20 = dt.date(2025, 6, 20)
    warehouse.replace_day(endpoint, database, TABLE, june_18, JUNE_18, CM_BHAVCOPY)
    client.command(f"SYSTEM STOP MERGES `{database}`.`{TABLE}`")  # so the parts show how the rows went in
    loaded = {}
    warehouse.replace_days(endpoint, database, TABLE, [(JUNE_18, june_18.slice(0, 500)), (JUNE_19, june_19),
                                                       (june_20, redated(june_19, june_20))],
                           CM_BHAVCOPY, loaded=loaded.__setitem__)
    assert loaded == {JUNE_18: 500, JUNE_19: june_19.num_rows, june_20: june_19.num_rows}
    assert_holds(client, database, JUNE_18, june_18.slice(0, 500))
    assert_holds(client, database, JUNE_19, june_19)
    assert_holds(client, database, june_20, redated(june_19, june_20))
    assert parts_of(client, database) == [(JUNE_18, JUNE_18, 500), (JUNE_19, june_20, 2 * june_19.num_rows)]


def test_insert_groups_are_whole_days_of_at_most_max_rows(june_18):
    days = [(dt.date(2025, 6, day), june_18.slice(0, size)) for day, size in ((2, 300), (3, 300), (4, 500), (5, 50))]
    groups = list(warehouse.insert_groups(iter(days), 600))
    assert [[day.day for day, _ in group] for group in groups] == [[2, 3], [4, 5]]  # 600, then 550
    assert [[day.day for day, _ in group] for group in warehouse.insert_groups(iter(days), 450)] == [[2], [3], [4], [5]]
    assert [[day.day for day, _ in group] for group in warehouse.insert_groups(iter(days), 100)] == [[2], [3], [4], [5]]
    assert list(warehouse.insert_groups(iter([]), 100)) == []


def test_a_failed_insert_keeps_the_day_replaced_before_it_and_loads_nothing_else(client, database, endpoint,
                                                                                 june_18, june_19):
    june_20 = dt.date(2025, 6, 20)
    warehouse.replace_day(endpoint, database, TABLE, june_18, JUNE_18, CM_BHAVCOPY)
    warehouse.forget_ready()  # a fresh process: no retry from the health check
    unloadable = redated(june_19, june_20).append_column("not_a_column", pa.array([1] * june_19.num_rows))
    loaded = {}
    with pytest.raises(Exception, match="not_a_column"):
        warehouse.replace_days(endpoint, database, TABLE, [(JUNE_18, june_18.slice(0, 500)), (JUNE_19, june_19),
                                                           (june_20, unloadable)],
                               CM_BHAVCOPY, loaded=loaded.__setitem__)
    assert loaded == {JUNE_18: 500}
    assert_holds(client, database, JUNE_18, june_18.slice(0, 500))
    assert warehouse.count_days(client, database, TABLE, [JUNE_19, june_20]) == {JUNE_19: 0, june_20: 0}


def test_a_server_load_of_several_days_counts_each_day(client, database, june_18, june_19):
    """Without KnownDates (a shared server) each new day is counted after the one insert; engine Null
    stands in for a table that loses rows."""
    columns = ", ".join(f"`{name}` {ch_type}" for name, ch_type in warehouse.clickhouse_columns(CM_BHAVCOPY))
    client.command(f"CREATE DATABASE `{database}`")
    client.command(f"CREATE TABLE `{database}`.`{TABLE}` ({columns}) ENGINE = Null")
    with pytest.raises(WarehouseError, match=f"holds 0 rows for 2025-06-18 after loading 2993, 0 rows for 2025-06-19 "
                                             f"after loading {june_19.num_rows}; another writer"):
        list(warehouse.load_days(client, database, TABLE, [(JUNE_18, june_18), (JUNE_19, june_19)]))
