"""A backfill's days run in Luigi's batches, each building its stage chains on a worker of its own."""
from datetime import timedelta

import luigi
import pyarrow.parquet as pq
import pytest
from luigi.execution_summary import LuigiStatusCode

from bench import mirror
from luigi_tasks import RangeDaily, layout
from luigi_tasks.routes import UDIFF_FROM
from luigi_tasks.tasks import BhavcopyETL, DayTask

from tests.nse_server import NSEServer
from tests.test_metrics import runs_of
from tests.test_tasks_clickhouse import engine

DAYS = mirror.trading_days(6)  # three legacy days, then three UDiFF days


@pytest.fixture
def events():
    """Which BhavcopyETL runs started (their dates), which stages succeeded for which day, and the days
    of each load that started (Luigi batches a batch's loads into one), in this process."""
    seen = {"runs": [], "stages": [], "loads": []}

    def started(task):
        if isinstance(task, BhavcopyETL):
            seen["runs"].append(task.dates)
        elif isinstance(task, DayTask) and task.task_family == "LoadClickHouse":
            seen["loads"].append(task.days)

    def succeeded(task):
        if isinstance(task, DayTask):
            seen["stages"] += [(task.task_family, day) for day in task.days]

    luigi.Task.event_handler(luigi.Event.START)(started)
    luigi.Task.event_handler(luigi.Event.SUCCESS)(succeeded)
    yield seen
    luigi.Task.remove_event_handler(luigi.Event.START, started)
    luigi.Task.remove_event_handler(luigi.Event.SUCCESS, succeeded)


def backfill(days):
    return RangeDaily(of=BhavcopyETL, start=days[0], stop=days[-1] + timedelta(days=1))


def clickhouse_rows() -> dict:
    client, database, table = engine()
    result = client.query(f"SELECT trade_date, count() FROM `{database}`.`{table}` GROUP BY trade_date")
    return dict(result.result_rows)


def lake_rows(root) -> dict:
    return {day: pq.read_metadata(layout.lake_path(root, "cm", day)).num_rows for day in layout.lake_dates(root, "cm")}


def expected_rows(days) -> dict:
    return {day: 2993 if day >= UDIFF_FROM else 2339 for day in days}


def test_a_backfill_runs_its_days_in_batches_of_batch_days(data_dir, run_tasks, luigi_config, events):
    luigi_config("batch", "days", "4")
    with NSEServer(mirror.build(DAYS)) as server:
        luigi_config("nse", "base_url", server.url)
        assert run_tasks(backfill(DAYS)).status == LuigiStatusCode.SUCCESS
        assert sorted(len(dates) for dates in events["runs"]) == [2, 4]  # two runs, not six
        assert sorted(day for dates in events["runs"] for day in dates) == DAYS
        assert len(events["stages"]) == 5 * len(DAYS)
        assert sorted(events["loads"]) == sorted(events["runs"])  # each run's days in one load: one insert
        assert lake_rows(data_dir) == clickhouse_rows() == expected_rows(DAYS)

        server.requests.clear()
        events["runs"].clear()
        assert run_tasks(backfill(DAYS)).status == LuigiStatusCode.SUCCESS  # done: a no-op
        assert events["runs"] == [] and server.requests == []


def test_deleting_a_middle_stage_reruns_that_day_from_that_stage_only(data_dir, run_tasks, luigi_config, events):
    luigi_config("batch", "days", "4")
    with NSEServer(mirror.build(DAYS)) as server:
        luigi_config("nse", "base_url", server.url)
        assert run_tasks(backfill(DAYS)).status == LuigiStatusCode.SUCCESS
        middle = DAYS[2]
        before = {day: layout.loaded_marker_path(data_dir, "cm", day).read_bytes() for day in DAYS if day != middle}
        layout.normalized_path(data_dir, "cm", middle).unlink()
        server.requests.clear()
        events["stages"].clear()

        assert run_tasks(backfill(DAYS)).status == LuigiStatusCode.SUCCESS
        assert sorted(events["stages"]) == sorted([("NormalizeBhavcopy", middle), ("WriteParquet", middle),
                                                   ("LoadClickHouse", middle)])
        assert server.requests == []  # the raw file was kept: nothing is fetched again
        assert {day: layout.loaded_marker_path(data_dir, "cm", day).read_bytes() for day in before} == before
        assert lake_rows(data_dir) == clickhouse_rows() == expected_rows(DAYS)


def test_a_bad_day_fails_alone_and_every_day_keeps_its_mlflow_run(data_dir, run_tasks, luigi_config, mlflow_store):
    luigi_config("batch", "days", "25")
    luigi_config("tracking", "experiment", experiment := f"batch-{id(data_dir)}")
    bad = DAYS[1]
    files = {path: body for path, body in mirror.build(DAYS).items() if f"{bad:%d%b%Y}".upper() not in path.upper()}
    with NSEServer(files) as server:
        luigi_config("nse", "base_url", server.url)
        luigi_config("nse", "web_url", server.url)
        result = run_tasks(backfill(DAYS))
    assert result.status == LuigiStatusCode.FAILED
    good = [day for day in DAYS if day != bad]
    assert lake_rows(data_dir) == clickhouse_rows() == expected_rows(good)
    assert not layout.raw_path(data_dir, "cm", bad).exists()
    for day in good:
        (run,) = runs_of(mlflow_store, experiment, day)
        assert (run.info.status, run.data.params["status"], run.data.metrics["rows_loaded"]) == \
               ("FINISHED", "success", expected_rows([day])[day])
    (run,) = runs_of(mlflow_store, experiment, bad)
    assert run.info.status == "FAILED"
    assert run.data.params["error"].startswith(f"DownloadBhavcopy: no bhavcopy published for {bad}")


def test_a_batch_parameter_reads_back_as_its_days():
    parameter = BhavcopyETL.date
    days = tuple(DAYS[:3])
    assert parameter.parse(parameter.serialize(days)) == days
    assert parameter.parse(DAYS[0].isoformat()) == DAYS[0]
    assert BhavcopyETL(date=days, load_to_clickhouse=False).dates == days


def test_a_day_another_run_starts_redoing_after_its_stages_ran_is_not_a_failure(data_dir, run_tasks, luigi_config,
                                                                                 caplog):
    """Two runs of one day: when this run's stages are done and the other run's refetch has just
    marked them to redo, this run did its part; the other finishes the day (no failure, no alert)."""
    day = DAYS[-1]

    def redo_begins(task):  # what another run's DownloadBhavcopy does when it replaces the raw file
        if isinstance(task, DayTask) and task.task_family == "LoadClickHouse":
            layout.loaded_marker_path(data_dir, "cm", day).unlink()

    with NSEServer(mirror.build([day])) as server:
        luigi_config("nse", "base_url", server.url)
        luigi.Task.event_handler(luigi.Event.SUCCESS)(redo_begins)
        try:
            result = run_tasks(BhavcopyETL(date=day))
        finally:
            luigi.Task.remove_event_handler(luigi.Event.SUCCESS, redo_begins)
        assert result.status == LuigiStatusCode.SUCCESS
        assert "another run has since begun to redo LoadClickHouse(date=" in caplog.text
        assert run_tasks(BhavcopyETL(date=day)).status == LuigiStatusCode.SUCCESS  # the redo, here
        assert layout.loaded_marker_path(data_dir, "cm", day).exists()
        assert lake_rows(data_dir) == clickhouse_rows() == expected_rows([day])


def test_a_lake_file_that_fails_its_seal_fails_its_load_alone(data_dir, run_tasks, luigi_config, mlflow_store,
                                                              events):
    """A batch's loads run as one task: a day whose lake file no longer matches its seal is named and
    left unloaded, and the batch's other days are loaded and marked, each with its MLflow run."""
    luigi_config("batch", "days", "25")
    luigi_config("tracking", "experiment", experiment := f"loads-{id(data_dir)}")
    bad = DAYS[3]
    lake_file = layout.lake_path(data_dir, "cm", bad)

    def tamper(task):  # what a disk error leaves between the write and the load: same size, other bytes
        if isinstance(task, DayTask) and task.task_family == "WriteParquet" and task.date == bad:
            with open(lake_file, "r+b") as handle:
                handle.seek(100)
                byte = handle.read(1)
                handle.seek(100)
                handle.write(bytes([byte[0] ^ 0xFF]))

    with NSEServer(mirror.build(DAYS)) as server:
        luigi_config("nse", "base_url", server.url)
        luigi.Task.event_handler(luigi.Event.SUCCESS)(tamper)
        try:
            result = run_tasks(backfill(DAYS))
        finally:
            luigi.Task.remove_event_handler(luigi.Event.SUCCESS, tamper)
        assert result.status == LuigiStatusCode.FAILED
        good = [day for day in DAYS if day != bad]
        assert max(len(days) for days in events["loads"]) == len(DAYS)  # one load task for the batch's days
        assert clickhouse_rows() == expected_rows(good)
        assert [day for day in DAYS if layout.loaded_marker_path(data_dir, "cm", day).exists()] == good
        for day in good:
            (run,) = runs_of(mlflow_store, experiment, day)
            assert (run.data.params["status"], run.data.metrics["rows_loaded"]) == ("success", expected_rows([day])[day])
        runs = runs_of(mlflow_store, experiment, bad)
        assert runs and all(run.data.params["status"] == "failed" for run in runs)
        assert runs[0].data.params["error"].startswith(f"LoadClickHouse: {bad} {lake_file}: lake file not loaded: ")

        lake_file.unlink()  # as the error says: rebuilt from the normalized file, then loaded
        assert run_tasks(backfill(DAYS)).status == LuigiStatusCode.SUCCESS
        assert lake_rows(data_dir) == clickhouse_rows() == expected_rows(DAYS)


def test_a_lake_file_gone_before_the_batch_loads_leaves_its_loads_to_the_next_run(data_dir, run_tasks, luigi_config):
    """Luigi checks every requirement of the batch's one load task before it runs: a lake file that
    another run's redo removes meanwhile fails those loads, none half done, and the next run loads
    every day."""
    luigi_config("batch", "days", "25")
    gone = DAYS[2]

    written = []

    def redo_begins(task):  # once every write is done, just before the loads
        if isinstance(task, DayTask) and task.task_family == "WriteParquet":
            written.append(task.date)
            if len(written) == len(DAYS):
                layout.lake_path(data_dir, "cm", gone).unlink()

    with NSEServer(mirror.build(DAYS)) as server:
        luigi_config("nse", "base_url", server.url)
        luigi.Task.event_handler(luigi.Event.SUCCESS)(redo_begins)
        try:
            assert run_tasks(backfill(DAYS)).status == LuigiStatusCode.FAILED
        finally:
            luigi.Task.remove_event_handler(luigi.Event.SUCCESS, redo_begins)
        assert [day for day in DAYS if layout.loaded_marker_path(data_dir, "cm", day).exists()] == []  # none loaded
        server.requests.clear()
        assert run_tasks(backfill(DAYS)).status == LuigiStatusCode.SUCCESS
        assert server.requests == []  # the raw files were kept
        assert lake_rows(data_dir) == clickhouse_rows() == expected_rows(DAYS)
