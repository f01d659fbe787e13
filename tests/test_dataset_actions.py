"""Corporate actions (datasets/actions.py): the PR zip's Bc member, one lake row per listed action.

The fixtures are NSE's PR zip layout: PR180625.zip with members named `Bc180625.csv` and dates like
19/06/2025 (single-space blanks), PR190625.zip with the late-2025 names (`bc19062025.csv`) and ISO
dates. The 18th lists INFY's bonus three times (twice under EQ, once under BE), a PURPOSE with two
dividends, one with a meeting and a dividend, a text not understood, a debt row with a blank series.
"""
import zipfile
from datetime import date

import pyarrow.parquet as pq
import pytest
from luigi.execution_summary import LuigiStatusCode

from luigi_tasks import RangeDaily, layout, rawfile, warehouse
from luigi_tasks.lake import read_stage
from luigi_tasks.__main__ import main
from luigi_tasks.config import clickhouse
from luigi_tasks.datasets import DATASETS
from luigi_tasks.errors import BhavcopyError
from luigi_tasks.pr_archive import day_of
from luigi_tasks.tasks import BhavcopyETL, DownloadBhavcopy, NormalizeBhavcopy

from tests.support import DATA
from tests.nse_server import zip_bytes

DAYS = [date(2025, 6, 18), date(2025, 6, 19)]


def members(day):
    with zipfile.ZipFile(DATA / f"PR{day:%d%m%y}.zip") as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_each_listed_action_is_a_lake_row_and_kinds_are_counted(data_dir, nse_server, run_tasks):
    assert run_tasks(BhavcopyETL(date=DAYS[0], datasets=["actions"])).status == LuigiStatusCode.SUCCESS
    assert len(members(DAYS[0])) == 14
    lake = pq.read_table(layout.lake_path(data_dir, "actions", DAYS[0]))
    assert "lake/corporate_actions/year=2025/month=6/day=18" in str(layout.lake_path(data_dir, "actions", DAYS[0]))
    rows = [(r["line"], r["part"], r["symbol"], r["series"], r["ex_date"], r["purpose"], r["kind"], r["factor"])
            for r in lake.to_pylist()]
    assert rows == [
        (1, 1, "INFY", "EQ", DAYS[1], "BONUS 1:1", "bonus", 0.5),
        (2, 1, "INFY", "BE", DAYS[1], "BONUS 1:1", "bonus", 0.5),
        (3, 1, "INFY", "EQ", DAYS[1], "BONUS 1:1", "bonus", 0.5),  # the same action again: kept, it is what NSE says
        (4, 1, "SBIN", "EQ", DAYS[1], "BONUS 1:1", "bonus", 0.5),
        (5, 1, "ITC", "EQ", date(2025, 6, 20), "DIV-RS0.40", "dividend", None),
        (5, 2, "ITC", "EQ", date(2025, 6, 20), "SPLDIV-RS0.20", "dividend", None),
        (6, 1, "TCS", "EQ", date(2025, 6, 26), "AGM", "meeting", None),
        (6, 2, "TCS", "EQ", date(2025, 6, 26), "DIV - RE 0.5 PER SH", "dividend", None),
        (7, 1, "WIPRO", "EQ", date(2025, 7, 4), "FVSPLT FRM RS 10 TO RS 2", "split", 0.2),
        (8, 1, "KMEW", "EQ", date(2025, 7, 1), "RIGHTS 1:4 @ PRM RS 6/-", "rights", None),
        (9, 1, "RELIANCE", "EQ", date(2025, 6, 24), "SCHEME OF ARRANGEMENT XYZ", "other", None),
        (10, 1, "850IIFL27", "", DAYS[1], "INTEREST PAYMENT", "other", None),
        (11, 1, "182D190625", "TB", None, "REDEMPTION", "other", None),
    ]
    first = lake.to_pylist()[0]
    assert (first["trade_date"], first["record_date"], first["bc_start_date"], first["security"]) == (
        DAYS[0], DAYS[1], None, "Infosys Limited")
    tcs = lake.to_pylist()[6]
    assert (tcs["security"], tcs["purpose_text"], tcs["bc_start_date"]) == (
        "Tata Consultancy Services, Ltd.", "AGM/DIV - RE 0.5 PER SH", date(2025, 6, 27))
    assert [r["amount"] for r in lake.to_pylist()[4:8]] == [0.4, 0.2, None, 0.5]
    assert read_stage(layout.rejects_path(data_dir, "actions", DAYS[0])).num_rows == 0

    task = NormalizeBhavcopy(date=DAYS[0], dataset="actions")
    task.run()  # its counts, as MLflow receives them (actions_ prefixed)
    assert task.metrics == {
        "normalized_rows": 13, "filtered_rows": 0, "price_outside_range_rows": 0, "kind_bonus_rows": 4,
        "kind_split_rows": 1, "kind_consolidation_rows": 0, "kind_rights_rows": 1, "kind_dividend_rows": 3,
        "kind_demerger_rows": 0, "kind_meeting_rows": 1, "kind_other_rows": 3, "unparsed_rows": 1}

    settings = clickhouse()
    client = warehouse.connect(chdb_path=settings.chdb_path)
    assert warehouse.count_day(client, settings.database, "corporate_actions_listed", DAYS[0]) == 13


def test_a_zip_without_the_bc_member_is_refused(data_dir, nse_server, run_tasks):
    files = {name: data for name, data in members(DAYS[0]).items() if name != "Bc180625.csv"}
    nse_server.put("PR180625.zip", zip_bytes(files))
    assert run_tasks(BhavcopyETL(date=DAYS[0], datasets=["actions"])).status == LuigiStatusCode.FAILED
    assert not layout.raw_path(data_dir, "actions", DAYS[0]).exists()
    with pytest.raises(BhavcopyError, match=r"^2025-06-18 http://127\.0\.0\.1:\d+/archives/equities/bhavcopy/pr/"
                                            r"PR180625\.zip: no member named Bc180625\.csv or bc18062025\.csv in "
                                            r"the zip; it holds: Pd180625\.csv, Pr180625\.csv"):
        DownloadBhavcopy(date=DAYS[0], dataset="actions").run()


def test_another_days_zip_is_refused(data_dir, nse_server, run_tasks):
    """A zip for the 18th served for the 19th: its members carry the 18th's names (NSE has served such)."""
    nse_server.put("PR190625.zip", (DATA / "PR180625.zip").read_bytes())
    assert run_tasks(BhavcopyETL(date=DAYS[1], datasets=["actions", "prices52"])).status == LuigiStatusCode.FAILED
    assert not layout.raw_path(data_dir, "actions", DAYS[1]).exists()
    assert not layout.raw_path(data_dir, "prices52", DAYS[1]).exists()
    with pytest.raises(BhavcopyError, match=r"no member named Bc190625\.csv or bc19062025\.csv in the zip; "
                                            r"it holds: Pd180625\.csv"):
        DownloadBhavcopy(date=DAYS[1], dataset="actions").run()


def test_a_bc_member_with_an_unknown_header_is_refused(data_dir, nse_server, run_tasks):
    files = members(DAYS[0])
    files["Bc180625.csv"] = files["Bc180625.csv"].replace(b"EX_DT", b"EXDATE")
    nse_server.put("PR180625.zip", zip_bytes(files))
    assert run_tasks(BhavcopyETL(date=DAYS[0], datasets=["actions"])).status == LuigiStatusCode.FAILED
    assert not layout.raw_path(data_dir, "actions", DAYS[0]).exists()
    with pytest.raises(BhavcopyError, match=r"^2025-06-18 Bc180625\.csv: unknown header, not bc"):
        DownloadBhavcopy(date=DAYS[0], dataset="actions").run()


def test_named_member_reading_keeps_the_size_caps():
    body = (DATA / "PR180625.zip").read_bytes()
    names = DATASETS["actions"].member(DAYS[0])
    assert rawfile.read_named_member(body, DAYS[0], "PR180625.zip", names, 10_000)[0] == "Bc180625.csv"
    with pytest.raises(BhavcopyError, match=r"zip member 'Bc180625.csv' declares \d+ bytes, over the 100-byte cap"):
        rawfile.read_named_member(body, DAYS[0], "PR180625.zip", names, 100)
    twice = zip_bytes({"Bc180625.csv": b"x", "sub/bc18062025.csv": b"y"})
    with pytest.raises(BhavcopyError, match=r"2 members named Bc180625\.csv or bc18062025\.csv"):
        rawfile.read_named_member(twice, DAYS[0], "PR180625.zip", names, 100)


@pytest.mark.parametrize("name, day", [("PR180625.zip", date(2025, 6, 18)), ("PR031194.zip", date(1994, 11, 3)),
                                       ("Bc311299.csv", date(1999, 12, 31)), ("PR010193.zip", date(2093, 1, 1))])
def test_two_digit_years_span_1994_to_2093(name, day):
    assert day_of(name) == day


def test_backfill_lands_exact_rows_for_the_three_new_datasets(data_dir, nse_server, run_tasks, capsys):
    new = ["actions", "prices52", "indices"]
    backfill = RangeDaily(of=BhavcopyETL, start=DAYS[0], stop=date(2025, 6, 21), of_params={"datasets": new})
    assert run_tasks(backfill).status == LuigiStatusCode.FAILED  # 2025-06-20 (a session) has no files here
    expected = {"actions": [13, 8], "prices52": [9, 9], "indices": [6, 6]}
    settings = clickhouse()
    client = warehouse.connect(chdb_path=settings.chdb_path)
    for name in new:
        assert sorted(layout.lake_dates(data_dir, name)) == DAYS
        assert [pq.read_metadata(layout.lake_path(data_dir, name, day)).num_rows for day in DAYS] == expected[name]
        table = settings.table_for(name)
        assert [warehouse.count_day(client, settings.database, table, day) for day in DAYS] == expected[name]
    requested = nse_server.paths_requested()
    assert [requested.count(f"/archives/equities/bhavcopy/pr/PR{d:%d%m%y}.zip") for d in DAYS] == [1, 1]

    assert main(["status", "--start", "2025-06-18", "--stop", "2025-06-19", "--dataset", "actions",
                 "--dataset", "prices52", "--dataset", "indices"]) == 0
    assert capsys.readouterr().out.splitlines()[:3] == [
        "2025-06-18  actions  done          13 rows  via pr-archive",
        "2025-06-18  prices52 done           9 rows  via pr-archive",
        "2025-06-18  indices  done           6 rows  via indices-archive",
    ]
