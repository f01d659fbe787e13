"""NSE's older eras end to end: each fixture day in its real layout lands in the lake row by row.

The fixtures in tests/data are small days in the layouts NSE used (NSE_SOURCES.md, "History"),
under NSE's own file names: 1995 (11 columns, `8-MAY-1995`, CRLF), 2004 (`2-JAN-2004`), 2007
(11 columns), F&O 2010 (American CA/PA stock options, mixed-case expiries), F&O 2018 (FUTIVX),
and 2025 UDiFF and delivery days with traded debt rows whose last price NSE left empty and a
padded symbol. Expected rows are computed here from the CSV text with the `csv` module and the
documented conversions (text stripped, empty -> null, lakhs -> rupees, CA/PA -> CE/PE american).
Days before 2005 run the stage tasks directly: they do not consult the trading calendar.
"""
import csv
import io
from datetime import date, datetime

import pyarrow.parquet as pq
import pytest
from luigi.execution_summary import LuigiStatusCode

from luigi_tasks import layout, warehouse
from luigi_tasks.lake import read_stage
from luigi_tasks.config import clickhouse
from luigi_tasks.datasets import DATASETS
from luigi_tasks.tasks import BhavcopyETL, DownloadBhavcopy, NormalizeBhavcopy, WriteParquet

from tests.support import DATA
from tests.nse_server import member_text, zip_bytes


def records(file_name: str) -> list[dict]:
    """NSE's rows as written, every value stripped; the trailing comma's empty column dropped."""
    path = DATA / file_name
    text = member_text(path) if file_name.endswith(".zip") else path.read_text()
    reader = csv.reader(io.StringIO(text))
    header = [name.strip() for name in next(reader)]
    return [{name: value.strip() for name, value in zip(header, values) if name} for values in reader if values]


def number(cast, text):
    return None if text in ("", "-") else cast(text)


def legacy_date(text):
    return datetime.strptime(text, "%d-%b-%Y").date()


def expected_cm(record: dict, day: date) -> dict:
    udiff = "TckrSymb" in record
    names = (("TckrSymb", "SctySrs", "ISIN", "OpnPric", "HghPric", "LwPric", "ClsPric", "LastPric", "PrvsClsgPric",
              "TtlTradgVol", "TtlTrfVal", "TtlNbOfTxsExctd") if udiff else
             ("SYMBOL", "SERIES", "ISIN", "OPEN", "HIGH", "LOW", "CLOSE", "LAST", "PREVCLOSE", "TOTTRDQTY",
              "TOTTRDVAL", "TOTALTRADES"))
    values = [record.get(name, "") for name in names]
    return {
        "trade_date": day, "symbol": values[0], "series": values[1], "isin": values[2] or None,
        **{name: number(float, text) for name, text in zip(("open", "high", "low", "close", "last", "prev_close"),
                                                            values[3:9])},
        "volume": number(int, values[9]), "turnover": number(float, values[10]), "trades": number(int, values[11]),
        "source_format": "udiff" if udiff else "legacy",
    }


INSTRUMENTS = {"FUTIDX": "IDF", "FUTSTK": "STF", "OPTIDX": "IDO", "OPTSTK": "STO"}
STYLES = {"CE": ("CE", "european"), "PE": ("PE", "european"), "CA": ("CE", "american"), "PA": ("PE", "american")}


def expected_fo_legacy(record: dict, day: date) -> dict:
    future = record["OPTION_TYP"] == "XX"
    option_type, style = (None, None) if future else STYLES[record["OPTION_TYP"]]
    return {
        "trade_date": day, "instrument_type": INSTRUMENTS.get(record["INSTRUMENT"], record["INSTRUMENT"]),
        "symbol": record["SYMBOL"], "expiry_date": legacy_date(record["EXPIRY_DT"]),
        "strike_price": None if future else float(record["STRIKE_PR"]), "option_type": option_type,
        "exercise_style": style,
        **{name: float(record[column]) for name, column in (("open", "OPEN"), ("high", "HIGH"), ("low", "LOW"),
                                                            ("close", "CLOSE"), ("settle_price", "SETTLE_PR"))},
        "prev_close": None, "underlying_price": None, "volume": int(record["CONTRACTS"]),
        "turnover": round(float(record["VAL_INLAKH"]) * 100_000, 2),  # lakhs -> rupees
        "open_interest": int(record["OPEN_INT"]), "change_in_oi": int(record["CHG_IN_OI"]),
        "trades": None, "lot_size": None, "source_format": "legacy",
    }


def expected_delivery(record: dict, day: date) -> dict:
    prices = ("prev_close", "PREV_CLOSE"), ("open", "OPEN_PRICE"), ("high", "HIGH_PRICE"), ("low", "LOW_PRICE"), \
        ("last", "LAST_PRICE"), ("close", "CLOSE_PRICE"), ("avg_price", "AVG_PRICE")
    return {
        "trade_date": day, "symbol": record["SYMBOL"], "series": record["SERIES"],
        **{name: number(float, record[column]) for name, column in prices},
        "volume": number(int, record["TTL_TRD_QNTY"]),
        "turnover": round(float(record["TURNOVER_LACS"]) * 100_000, 2),
        "trades": number(int, record["NO_OF_TRADES"]),
        "delivery_qty": number(int, record["DELIV_QTY"]), "delivery_pct": number(float, record["DELIV_PER"]),
        "source_format": "full",
    }


ERAS = [
    # (day, dataset, NSE's file, rows, how to build the expected lake row, run through BhavcopyETL?)
    (date(1995, 5, 8), "cm", "cm08MAY1995bhav.csv.zip", 28, expected_cm, False),
    (date(2004, 1, 2), "cm", "cm02JAN2004bhav.csv.zip", 33, expected_cm, False),
    (date(2007, 8, 29), "cm", "cm29AUG2007bhav.csv.zip", 23, expected_cm, True),
    (date(2010, 4, 29), "fo", "fo29APR2010bhav.csv.zip", 28, expected_fo_legacy, True),
    (date(2018, 6, 28), "fo", "fo28JUN2018bhav.csv.zip", 15, expected_fo_legacy, True),
    (date(2025, 6, 25), "cm", "BhavCopy_NSE_CM_0_0_0_20250625_F_0000.csv.zip", 20, expected_cm, True),
    (date(2025, 6, 25), "delivery", "sec_bhavdata_full_25062025.csv", 17, expected_delivery, True),
]


@pytest.mark.parametrize("day, dataset, file_name, rows, expected, etl", ERAS,
                         ids=[f"{dataset}-{day}" for day, dataset, *_ in ERAS])
def test_an_era_day_lands_row_by_row(data_dir, nse_server, run_tasks, day, dataset, file_name, rows, expected, etl):
    task = BhavcopyETL(date=day, datasets=[dataset]) if etl else WriteParquet(date=day, dataset=dataset)
    assert run_tasks(task).status == LuigiStatusCode.SUCCESS
    source = records(file_name)
    lake = pq.read_table(layout.lake_path(data_dir, dataset, day))
    assert read_stage(layout.rejects_path(data_dir, dataset, day)).num_rows == 0
    assert len(source) == rows and lake.num_rows == rows
    assert lake.schema == DATASETS[dataset].schema
    assert lake.to_pylist() == [expected(record, day) for record in source]
    if etl:
        settings = clickhouse()
        client = warehouse.connect(chdb_path=settings.chdb_path)
        assert warehouse.count_day(client, settings.database, settings.table_for(dataset), day) == rows


def test_what_the_era_fixtures_hold(data_dir, nse_server, run_tasks):
    """The quirks each fixture is there for are really in it, and read as documented."""
    assert member_text(DATA / "cm08MAY1995bhav.csv.zip").count("\r\n") == 29  # CRLF, header + 28 rows
    assert ",8-MAY-1995," in member_text(DATA / "cm08MAY1995bhav.csv.zip")
    assert ",2-JAN-2004," in member_text(DATA / "cm02JAN2004bhav.csv.zip")
    for day, dataset in [(date(1995, 5, 8), "cm"), (date(2010, 4, 29), "fo"), (date(2025, 6, 25), "cm"),
                         (date(2025, 6, 25), "delivery")]:
        assert run_tasks(WriteParquet(date=day, dataset=dataset)).status == LuigiStatusCode.SUCCESS
    old = pq.read_table(layout.lake_path(data_dir, "cm", date(1995, 5, 8))).to_pylist()
    assert {row["isin"] for row in old} == {None} and {row["trades"] for row in old} == {None}
    fo = pq.read_table(layout.lake_path(data_dir, "fo", date(2010, 4, 29))).to_pylist()
    styles = {(row["instrument_type"], row["option_type"], row["exercise_style"]) for row in fo}
    assert styles == {("IDF", None, None), ("STF", None, None), ("IDO", "CE", "european"), ("IDO", "PE", "european"),
                      ("STO", "CE", "american"), ("STO", "PE", "american")}
    assert {row["expiry_date"] for row in fo} == {date(2010, 4, 29), date(2010, 5, 27), date(2010, 6, 24),
                                                  date(2010, 12, 30)}
    udiff = pq.read_table(layout.lake_path(data_dir, "cm", date(2025, 6, 25))).to_pylist()
    assert "SGBJUN28" in {row["symbol"] for row in udiff}  # NSE wrote 'SGBJUN28 '
    debt = [row for row in udiff if row["series"][0] in "YZ"]
    assert len(debt) == 6 and all(row["last"] is None and row["volume"] > 0 for row in debt)
    delivery = pq.read_table(layout.lake_path(data_dir, "delivery", date(2025, 6, 25))).to_pylist()
    assert [row["symbol"] for row in delivery if row["last"] is None] == ["740IIFCL33"]


def test_futivx_is_a_future_kept_as_written(data_dir, nse_server, run_tasks):
    day = date(2018, 6, 28)
    assert run_tasks(WriteParquet(date=day, dataset="fo")).status == LuigiStatusCode.SUCCESS
    vix = [row for row in pq.read_table(layout.lake_path(data_dir, "fo", day)).to_pylist()
           if row["symbol"] == "INDIAVIX"]
    assert [(row["instrument_type"], row["expiry_date"], row["strike_price"], row["option_type"]) for row in vix] == [
        ("FUTIVX", date(2018, 7, 3), None, None), ("FUTIVX", date(2018, 7, 10), None, None),
        ("FUTIVX", date(2018, 7, 17), None, None)]


def test_a_day_before_the_pr_archive_lands_cm_with_the_default_datasets(data_dir, nse_server, run_tasks):
    """With cm and actions both selected, a 2007 day needs no actions file and no actions check."""
    day = date(2007, 8, 29)
    assert run_tasks(BhavcopyETL(date=day, datasets=["cm", "actions", "prices52", "indices"],
                                 load_to_clickhouse=False)).status == LuigiStatusCode.SUCCESS
    assert pq.read_table(layout.lake_path(data_dir, "cm", day)).num_rows == 23
    assert not (data_dir / "checks").exists() and not (data_dir / "raw" / "actions").exists()
    assert not any("/pr/" in path for path in nse_server.paths_requested())


def test_the_actions_check_requires_only_its_own_day(data_dir):
    from luigi_tasks.actions_task import CheckActions

    first = CheckActions(date=date(2010, 1, 4), dataset="actions")  # its previous session, 2009-12-31, precedes 2010
    assert first.before is None and [task.date for task in first.requires()] == [date(2010, 1, 4)] * 2
    later = CheckActions(date=date(2010, 1, 5), dataset="actions")
    assert [task.date for task in later.requires()] == [date(2010, 1, 5)] * 2
    assert later.before is None  # 2010-01-04 is not in this empty lake: compared only once it is


def test_first_days_of_each_dataset():
    """A backfill asks nothing for a dataset before its first day (Dataset.starts)."""
    assert {name: dataset.starts for name, dataset in DATASETS.items()} == {
        "cm": date(1994, 11, 3), "fo": date(2000, 6, 12), "delivery": date(2020, 1, 1),
        "actions": date(2010, 1, 1), "prices52": date(2010, 1, 1), "indices": date(2013, 1, 1)}


# ---- the wrong file is refused, never published ----

def assert_nothing_published(data_dir, dataset, day):
    assert not layout.lake_path(data_dir, dataset, day).exists()
    assert not layout.loaded_marker_path(data_dir, dataset, day).exists()
    assert not layout.normalized_path(data_dir, dataset, day).exists()


@pytest.mark.parametrize("day, cm_file, fo_member, problem", [
    (date(2025, 6, 18), "BhavCopy_NSE_CM_0_0_0_20250618_F_0000.csv.zip", "BhavCopy_NSE_FO_0_0_0_20250618_F_0000.csv",
     r"wrong file: Sgmt is CM, expected FO"),
    (date(2022, 12, 1), "cm01DEC2022bhav.csv.zip", "fo01DEC2022bhav.csv", r"unknown header"),
], ids=["udiff", "legacy"])
def test_a_cm_file_at_the_fo_url_is_refused(data_dir, nse_server, run_tasks, day, cm_file, fo_member, problem):
    nse_server.put(fo_member + ".zip", zip_bytes({fo_member: member_text(DATA / cm_file)}))
    assert run_tasks(BhavcopyETL(date=day, datasets=["fo"])).status == LuigiStatusCode.FAILED
    assert not layout.raw_path(data_dir, "fo", day).exists()
    assert_nothing_published(data_dir, "fo", day)
    with pytest.raises(Exception, match=rf"^{day} {fo_member}: {problem}"):
        DownloadBhavcopy(date=day, dataset="fo").run()


def test_a_file_whose_rows_are_all_rejected_is_refused(data_dir, nse_server, run_tasks):
    """Every row with HIGH below LOW: not a day of bad rows but a wrong file; no lake file, no marker."""
    day, name = date(2007, 8, 29), "cm29AUG2007bhav.csv"
    lines = member_text(DATA / f"{name}.zip").splitlines()
    swapped = [lines[0]]
    for line in lines[1:]:
        fields = line.split(",")
        fields[3], fields[4] = fields[4], fields[3]  # HIGH <-> LOW
        swapped.append(",".join(fields))
    nse_server.put(f"{name}.zip", zip_bytes({name: "\n".join(swapped) + "\n"}))
    assert run_tasks(BhavcopyETL(date=day, datasets=["cm"])).status == LuigiStatusCode.FAILED
    assert layout.staging_path(data_dir, "cm", day).exists()  # read fine; refused as a whole after the rules
    assert_nothing_published(data_dir, "cm", day)
    assert not layout.rejects_path(data_dir, "cm", day).exists()
    with pytest.raises(Exception, match=rf"^2007-08-29 \S+staging/cm/2007-08-29\.arrow: all 23 rows rejected "
                                        r"\(high < low\)"):
        NormalizeBhavcopy(date=day, dataset="cm").run()


def test_a_bare_csv_at_a_zip_url_is_named_as_such(data_dir, nse_server, run_tasks):
    day, name = date(2007, 8, 29), "cm29AUG2007bhav.csv"
    nse_server.put(f"{name}.zip", member_text(DATA / f"{name}.zip").encode())
    assert run_tasks(BhavcopyETL(date=day, datasets=["cm"])).status == LuigiStatusCode.FAILED
    assert not layout.raw_path(data_dir, "cm", day).exists()
    with pytest.raises(Exception, match=r"^2007-08-29 \S+cm29AUG2007bhav\.csv\.zip: a bare CSV file \(\d+ bytes\) "
                                        r"where NSE serves a zip"):
        DownloadBhavcopy(date=day, dataset="cm").run()
