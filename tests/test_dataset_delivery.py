"""The delivery file (datasets/delivery.py): NSE's real files end to end, '-' as null, lakhs, the wrong-day trap."""
import csv
import io
import json
from datetime import date

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from luigi.execution_summary import LuigiStatusCode

from luigi_tasks import layout, warehouse
from luigi_tasks.lake import read_stage
from luigi_tasks.config import clickhouse
from luigi_tasks.datasets import DATASETS
from luigi_tasks.tasks import BhavcopyETL, DownloadBhavcopy

from tests.support import DATA
from tests.nse_server import member_text, zip_bytes

DELIVERY = DATASETS["delivery"]
DAYS = [date(2025, 6, 18), date(2025, 6, 19)]


def source_records(day):
    text = (DATA / f"sec_bhavdata_full_{day:%d%m%Y}.csv").read_text()
    reader = csv.reader(io.StringIO(text))
    header = [name.strip() for name in next(reader)]
    return [dict(zip(header, (value.strip() for value in values))) for values in reader]


def none_or(cast, text):
    return None if text == "-" else cast(text)


@pytest.mark.parametrize("day", DAYS)
def test_real_file_lands_row_by_row(data_dir, nse_server, run_tasks, day):
    assert run_tasks(BhavcopyETL(date=day, datasets=["delivery"])).status == LuigiStatusCode.SUCCESS
    lake = pq.read_table(layout.lake_path(data_dir, "delivery", day))
    assert "lake/cm_delivery/year=2025/month=6/" in str(layout.lake_path(data_dir, "delivery", day))
    records = source_records(day)
    assert lake.num_rows == len(records) > 2800
    assert read_stage(layout.rejects_path(data_dir, "delivery", day)).num_rows == 0
    dashes = 0
    for record, row in zip(records, lake.to_pylist()):
        assert (row["symbol"], row["series"], row["trade_date"]) == (record["SYMBOL"], record["SERIES"], day)
        assert row["close"] == float(record["CLOSE_PRICE"]) and row["avg_price"] == float(record["AVG_PRICE"])
        assert row["prev_close"] == float(record["PREV_CLOSE"])
        assert row["volume"] == int(record["TTL_TRD_QNTY"]) and row["trades"] == int(record["NO_OF_TRADES"])
        assert row["turnover"] == round(float(record["TURNOVER_LACS"]) * 100_000, 2)
        assert row["delivery_qty"] == none_or(int, record["DELIV_QTY"])
        assert row["delivery_pct"] == none_or(float, record["DELIV_PER"])
        dashes += record["DELIV_QTY"] == "-"
    assert dashes > 100  # BE/BZ rows print '-' and became null

    settings = clickhouse()
    client = warehouse.connect(chdb_path=settings.chdb_path)
    count, nulls, delivered = client.query(
        f"SELECT count(), countIf(delivery_qty IS NULL), sum(delivery_qty) FROM `{settings.database}`.cm_delivery "
        "WHERE trade_date = {d:Date}", parameters={"d": day}).result_rows[0]
    assert (count, nulls) == (lake.num_rows, lake["delivery_qty"].null_count)
    assert delivered == pc.sum(lake["delivery_qty"]).as_py()


def test_previous_days_file_on_a_holiday_is_refused(data_dir, nse_server, run_tasks):
    """NSE answered 2024-01-26 with 2024-01-25's file; here the 18th's file is served for the 19th."""
    nse_server.put("sec_bhavdata_full_19062025.csv", (DATA / "sec_bhavdata_full_18062025.csv").read_bytes())
    assert run_tasks(BhavcopyETL(date=DAYS[1], datasets=["delivery"])).status == LuigiStatusCode.FAILED
    assert not layout.raw_path(data_dir, "delivery", DAYS[1]).exists()
    assert not (data_dir / "lake").exists()
    with pytest.raises(Exception, match=r"^2025-06-19 sec_bhavdata_full_19062025\.csv: wrong trade date inside "
                                        r"the file: 2025-06-18"):
        DownloadBhavcopy(date=DAYS[1], dataset="delivery").run()


def test_reload_is_idempotent(data_dir, nse_server, run_tasks):
    assert run_tasks(BhavcopyETL(date=DAYS[0], datasets=["delivery"])).status == LuigiStatusCode.SUCCESS
    layout.loaded_marker_path(data_dir, "delivery", DAYS[0]).unlink()
    assert run_tasks(BhavcopyETL(date=DAYS[0], datasets=["delivery"])).status == LuigiStatusCode.SUCCESS
    settings = clickhouse()
    client = warehouse.connect(chdb_path=settings.chdb_path)
    assert warehouse.count_day(client, settings.database, "cm_delivery", DAYS[0]) == len(source_records(DAYS[0]))


HEADER = ("SYMBOL, SERIES, DATE1, PREV_CLOSE, OPEN_PRICE, HIGH_PRICE, LOW_PRICE, LAST_PRICE, CLOSE_PRICE, "
          "AVG_PRICE, TTL_TRD_QNTY, TURNOVER_LACS, NO_OF_TRADES, DELIV_QTY, DELIV_PER")
GOOD = "INFY, EQ, 18-Jun-2025, 100.00, 101.00, 102.00, 99.00, 100.50, 100.40, 100.70, 1000, 1.01, 50, 400, 40.00"


@pytest.mark.parametrize("row, reason", [
    ("INFY, EQ, 18-Jun-2025, 100.00, 101.00, 102.00, 99.00, 100.50, 100.40, 100.70, 1000, 1.01, 50, 1400, 140.00",
     "delivery_qty above volume"),
    ("INFY, EQ, 18-Jun-2025, 100.00, 101.00, 102.00, 99.00, 100.50, 100.40, 100.70, 1000, 1.01, 50, 400, 140.00",
     "delivery_pct outside [0, 100]"),
    ("INFY, EQ, 18-Jun-2025, 100.00, 101.00, 102.00, 99.00, 100.50, 100.40, -100.70, 1000, 1.01, 50, 400, 40.00",
     "negative avg_price"),
])
def test_delivery_rules(row, reason):
    text = "\n".join([HEADER, row.replace("INFY", "TCS"), GOOD]) + "\n"
    checked = DELIVERY.validate(DELIVERY.to_canonical(DELIVERY.parse(text.encode(), DAYS[0], "f.csv")), DAYS[0], "f.csv")
    assert checked.good["symbol"].to_pylist() == ["INFY"]
    assert reason in checked.rejects["reason"][0].as_py()


def test_all_three_datasets_for_one_day_and_status_shows_each(data_dir, nse_server, run_tasks, capsys):
    """A day with every file: the F&O fixture re-dated to 2025-06-18 joins the real CM and delivery files."""
    text = member_text(DATA / "BhavCopy_NSE_FO_0_0_0_20250203_F_0000.csv.zip").replace(
        "2025-02-03,2025-02-03,", "2025-06-18,2025-06-18,")
    member = "BhavCopy_NSE_FO_0_0_0_20250618_F_0000.csv"
    nse_server.put(member + ".zip", zip_bytes({member: text}))

    etl = BhavcopyETL(date=DAYS[0], datasets=["cm", "fo", "delivery"])
    assert run_tasks(etl).status == LuigiStatusCode.SUCCESS
    assert BhavcopyETL.bulk_complete.__func__(
        lambda **kw: BhavcopyETL(datasets=["cm", "fo", "delivery"], **kw), DAYS) == [DAYS[0]]

    from luigi_tasks.__main__ import main

    code = main(["status", "--start", "2025-06-18", "--stop", "2025-06-19",
                 "--dataset", "cm", "--dataset", "fo", "--dataset", "delivery"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert lines[:3] == [
        "2025-06-18  cm       done       2,993 rows  via cm-udiff",
        "2025-06-18  fo       done      34,304 rows  via fo-udiff",
        "2025-06-18  delivery done       2,865 rows  via delivery-archive",
    ]
    sidecar = json.loads(layout.raw_sidecar_path(data_dir, "delivery", DAYS[0]).read_text())
    assert sidecar["url"].endswith("/products/content/sec_bhavdata_full_18062025.csv")


def test_a_blank_last_price_is_null_and_the_row_kept():
    """NSE leaves LAST_PRICE blank on some traded debt rows."""
    debt = "740IIFCL33, N1, 18-Jun-2025, 1175.00, 1170.00, 1170.00, 1146.25, , 1146.25, 1169.79, 1008, 11.79, 4, 1008, 100.00"
    text = "\n".join([HEADER, debt, GOOD]) + "\n"
    checked = DELIVERY.validate(DELIVERY.to_canonical(DELIVERY.parse(text.encode(), DAYS[0], "f.csv")), DAYS[0], "f.csv")
    assert checked.rejects.num_rows == 0
    row = checked.good.to_pylist()[0]
    assert (row["symbol"], row["series"], row["last"], row["close"], row["volume"]) == ("740IIFCL33", "N1", None, 1146.25, 1008)
