"""Index closes (datasets/indices.py): ind_close_all files end to end, '-' as null, crores, the date inside."""
import csv
import io
from datetime import date

import pyarrow.parquet as pq
import pytest
from luigi.execution_summary import LuigiStatusCode

from luigi_tasks import layout, warehouse
from luigi_tasks.lake import read_stage
from luigi_tasks.config import clickhouse
from luigi_tasks.datasets import DATASETS
from luigi_tasks.tasks import BhavcopyETL, DownloadBhavcopy

from tests.support import DATA

INDICES = DATASETS["indices"]
DAYS = [date(2025, 6, 18), date(2025, 6, 19)]


def file_name(day):
    return f"ind_close_all_{day:%d%m%Y}.csv"


def source_records(day):
    return list(csv.DictReader(io.StringIO((DATA / file_name(day)).read_text())))


def number(text):
    return None if text == "-" else float(text)


@pytest.mark.parametrize("day", DAYS)
def test_file_lands_row_by_row(data_dir, nse_server, run_tasks, day):
    assert run_tasks(BhavcopyETL(date=day, datasets=["indices"])).status == LuigiStatusCode.SUCCESS
    assert "lake/index_close/year=2025/month=6/" in str(layout.lake_path(data_dir, "indices", day))
    lake = pq.read_table(layout.lake_path(data_dir, "indices", day)).to_pylist()
    records = source_records(day)
    assert len(lake) == len(records) == 6
    assert read_stage(layout.rejects_path(data_dir, "indices", day)).num_rows == 0
    for record, row in zip(records, lake):
        assert (row["trade_date"], row["index_name"]) == (day, record["Index Name"])
        assert row["close"] == float(record["Closing Index Value"])
        assert row["open"] == number(record["Open Index Value"])
        assert row["change_pct"] == number(record["Change(%)"])  # bare decimals like -.17
        assert row["volume"] == (None if record["Volume"] == "-" else int(record["Volume"]))
        turnover = number(record["Turnover (Rs. Cr.)"])
        assert row["turnover"] == (None if turnover is None else round(turnover * 10_000_000, 2))
        assert row["pe"] == number(record["P/E"]) and row["div_yield"] == number(record["Div Yield"])
    vix = next(row for row in lake if row["index_name"] == "India VIX")
    assert (vix["open"], vix["high"], vix["low"], vix["volume"], vix["close"]) == (None, None, None, None, vix["close"])

    settings = clickhouse()
    client = warehouse.connect(chdb_path=settings.chdb_path)
    count, no_open, close = client.query(
        f"SELECT count(), countIf(open IS NULL), sum(close) FROM `{settings.database}`.index_close "
        "WHERE trade_date = {d:Date}", parameters={"d": day}).result_rows[0]
    assert (count, no_open) == (6, 2)
    assert close == pytest.approx(sum(float(r["Closing Index Value"]) for r in records))


def test_a_previous_days_file_is_refused(data_dir, nse_server, run_tasks):
    nse_server.put(file_name(DAYS[1]), (DATA / file_name(DAYS[0])).read_bytes())
    assert run_tasks(BhavcopyETL(date=DAYS[1], datasets=["indices"])).status == LuigiStatusCode.FAILED
    assert not layout.raw_path(data_dir, "indices", DAYS[1]).exists()
    with pytest.raises(Exception, match=r"^2025-06-19 ind_close_all_19062025\.csv: wrong trade date inside the "
                                        r"file: 2025-06-18"):
        DownloadBhavcopy(date=DAYS[1], dataset="indices").run()


def test_an_unknown_header_is_refused(data_dir, nse_server, run_tasks):
    text = (DATA / file_name(DAYS[0])).read_text().replace("Closing Index Value", "Close Value")
    nse_server.put(file_name(DAYS[0]), text.encode())
    assert run_tasks(BhavcopyETL(date=DAYS[0], datasets=["indices"])).status == LuigiStatusCode.FAILED
    assert not layout.raw_path(data_dir, "indices", DAYS[0]).exists()
    with pytest.raises(Exception, match=r"^2025-06-18 ind_close_all_18062025\.csv: unknown header, not ind_close_all"):
        DownloadBhavcopy(date=DAYS[0], dataset="indices").run()


HEADER = ("Index Name,Index Date,Open Index Value,High Index Value,Low Index Value,Closing Index Value,"
          "Points Change,Change(%),Volume,Turnover (Rs. Cr.),P/E,P/B,Div Yield")


@pytest.mark.parametrize("row, reason", [
    ("Nifty X,18-06-2025,10,12,9,-,1,1,1,1,1,1,1", "missing or non-positive close"),
    ("Nifty X,18-06-2025,10,9,12,10,1,1,1,1,1,1,1", "high < low"),
    ("Nifty X,18-06-2025,10,12,9,11,1,1,-5,1,1,1,1", "negative volume"),
    ("Nifty 50,18-06-2025,10,12,9,11,1,1,1,1,1,1,1", "conflicting duplicate (index_name)"),
])
def test_only_the_impossible_is_rejected(row, reason):
    good = "Nifty 50,18-06-2025,-,-,-,24812.05,-41.35,-.17,-,-,-,-,-"
    # a duplicate of the good row rejects both: another index keeps the file from being all rejects
    other = ["Nifty Bank,18-06-2025,-,-,-,55000.1,1,1,-,-,-,-,-"] if "duplicate" in reason else []
    text = "\n".join([HEADER, good, *other, row]) + "\n"
    checked = INDICES.validate(INDICES.to_canonical(INDICES.parse(text.encode(), DAYS[0], "f.csv")), DAYS[0], "f.csv")
    assert reason in "; ".join(checked.rejects["reason"].to_pylist())
    if "duplicate" not in reason:
        assert checked.good["index_name"].to_pylist() == ["Nifty 50"]
        assert checked.good["open"].to_pylist() == [None]
