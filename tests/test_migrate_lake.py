"""migrate-lake: a lake written with zero-padded partitions moves to the unpadded layout, losing nothing."""
import os
from datetime import date

from luigi.execution_summary import LuigiStatusCode

from luigi_tasks import layout
from luigi_tasks.lake import open_lake
from luigi_tasks.__main__ import main
from luigi_tasks.tasks import BhavcopyETL

DAYS = [date(2025, 6, 18), date(2025, 6, 19)]


def pad(root, day):
    """Where an older version put the day's lake file: month=06/day=18."""
    return (layout.lake_root(root, "cm") / f"year={day.year}/month={day.month:02d}/day={day.day:02d}"
            / layout.lake_path(root, "cm", day).name)


def test_a_padded_lake_moves_whole_and_counts_as_done(data_dir, nse_server, run_tasks, capsys):
    assert run_tasks(*[BhavcopyETL(date=d, load_to_clickhouse=False) for d in DAYS]).status == LuigiStatusCode.SUCCESS
    before = open_lake(layout.lake_root(data_dir, "cm")).to_table()
    for day in DAYS:  # put the lake back as an older version wrote it
        new, old = layout.lake_path(data_dir, "cm", day), pad(data_dir, day)
        old.parent.mkdir(parents=True)
        os.replace(new, old)
        os.replace(layout.seal_path(new), layout.seal_path(old))
        new.parent.rmdir()
    assert layout.lake_dates(data_dir, "cm") == set()

    assert main(["migrate-lake", "--dataset", "cm"]) == 0
    assert capsys.readouterr().out.splitlines() == ["cm: 2 lake files moved, 0 left in place"]
    assert layout.lake_dates(data_dir, "cm") == set(DAYS)
    assert sorted(p.name for p in (layout.lake_root(data_dir, "cm") / "year=2025").iterdir()) == ["month=6"]
    after = open_lake(layout.lake_root(data_dir, "cm")).to_table()
    assert after.drop_columns(["month", "day"]).sort_by("symbol").equals(
        before.drop_columns(["month", "day"]).sort_by("symbol"))
    assert after.schema.field("month").type == after.schema.field("day").type == "int32"
    requests = len(nse_server.requests)
    assert run_tasks(*[BhavcopyETL(date=d, load_to_clickhouse=False) for d in DAYS]).status == LuigiStatusCode.SUCCESS
    assert len(nse_server.requests) == requests and main(["verify", "--start", "2025-06-18", "--stop", "2025-06-20",
                                                          "--load-to-clickhouse", "false"]) == 0


def test_a_day_at_both_places_is_left_alone_and_reported(data_dir, nse_server, run_tasks, capsys):
    assert run_tasks(BhavcopyETL(date=DAYS[0], load_to_clickhouse=False)).status == LuigiStatusCode.SUCCESS
    old = pad(data_dir, DAYS[0])
    old.parent.mkdir(parents=True)
    old.write_bytes(layout.lake_path(data_dir, "cm", DAYS[0]).read_bytes())

    assert main(["migrate-lake", "--dataset", "cm"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("already exists") and lines[-1] == "cm: 0 lake files moved, 1 left in place"
    assert old.exists() and layout.lake_path(data_dir, "cm", DAYS[0]).exists()
