"""The F&O bhavcopy (datasets/fo.py): NSE's real UDiFF file end to end, legacy layout, units, rules."""
import csv
import io
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from luigi.execution_summary import LuigiStatusCode

from luigi_tasks import layout, warehouse
from luigi_tasks.lake import read_stage
from luigi_tasks.config import clickhouse
from luigi_tasks.datasets import DATASETS
from luigi_tasks.errors import BhavcopyError
from luigi_tasks.tasks import BhavcopyETL

from tests.support import DATA
from tests.nse_server import member_text

FO = DATASETS["fo"]
DAY, FILE = date(2025, 2, 3), "BhavCopy_NSE_FO_0_0_0_20250203_F_0000.csv.zip"


def source_records():
    return list(csv.DictReader(io.StringIO(member_text(DATA / FILE))))


def optional_float(text):
    return float(text) if text.strip() else None


def test_real_udiff_file_lands_row_by_row_in_lake_and_clickhouse(data_dir, nse_server, run_tasks):
    assert run_tasks(BhavcopyETL(date=DAY, datasets=["fo"])).status == LuigiStatusCode.SUCCESS
    lake = pq.read_table(layout.lake_path(data_dir, "fo", DAY))
    assert layout.lake_path(data_dir, "fo", DAY).parent.parent.parent.parent.name == "fo_bhavcopy"
    records = source_records()
    assert lake.num_rows == len(records) == 34304
    assert read_stage(layout.rejects_path(data_dir, "fo", DAY)).num_rows == 0
    for record, row in zip(records, lake.to_pylist()):
        assert row["trade_date"] == DAY
        assert row["instrument_type"] == record["FinInstrmTp"]
        assert row["symbol"] == record["TckrSymb"]
        assert row["expiry_date"] == date.fromisoformat(record["XpryDt"])
        assert row["strike_price"] == optional_float(record["StrkPric"])
        assert row["option_type"] == (record["OptnTp"] or None)
        assert (row["open"], row["high"], row["low"], row["close"], row["settle_price"]) == tuple(
            float(record[c]) for c in ("OpnPric", "HghPric", "LwPric", "ClsPric", "SttlmPric"))
        assert row["underlying_price"] == float(record["UndrlygPric"])
        assert row["volume"] == int(record["TtlTradgVol"])  # contracts
        assert row["turnover"] == float(record["TtlTrfVal"])  # rupees already
        assert row["open_interest"] == int(record["OpnIntrst"])  # shares
        assert row["change_in_oi"] == int(record["ChngInOpnIntrst"])
        assert row["lot_size"] == int(record["NewBrdLotQty"])
        assert row["source_format"] == "udiff"

    settings = clickhouse()
    client = warehouse.connect(chdb_path=settings.chdb_path)
    count, oi, turnover = client.query(
        f"SELECT count(), sum(open_interest), sum(turnover) FROM `{settings.database}`.fo_bhavcopy "
        "WHERE trade_date = {d:Date}", parameters={"d": DAY}).result_rows[0]
    assert count == 34304 and oi == pc.sum(lake["open_interest"]).as_py()
    assert turnover == pytest.approx(pc.sum(lake["turnover"]).as_py(), rel=1e-12)
    columns = dict(warehouse.table_columns(client, settings.database, "fo_bhavcopy"))
    assert columns["strike_price"] == "Nullable(Float64)" and columns["option_type"] == "LowCardinality(Nullable(String))"
    assert columns["expiry_date"] == "Date" and columns["instrument_type"] == "LowCardinality(String)"


def test_reload_is_idempotent(data_dir, nse_server, run_tasks):
    assert run_tasks(BhavcopyETL(date=DAY, datasets=["fo"])).status == LuigiStatusCode.SUCCESS
    layout.loaded_marker_path(data_dir, "fo", DAY).unlink()
    assert run_tasks(BhavcopyETL(date=DAY, datasets=["fo"])).status == LuigiStatusCode.SUCCESS
    settings = clickhouse()
    client = warehouse.connect(chdb_path=settings.chdb_path)
    assert warehouse.count_day(client, settings.database, "fo_bhavcopy", DAY) == 34304


LEGACY_HEADER = ("INSTRUMENT,SYMBOL,EXPIRY_DT,STRIKE_PR,OPTION_TYP,OPEN,HIGH,LOW,CLOSE,SETTLE_PR,CONTRACTS,"
                 "VAL_INLAKH,OPEN_INT,CHG_IN_OI,TIMESTAMP,")
LEGACY_ROWS = [
    "FUTIDX,NIFTY,29-Dec-2022,0,XX,18800,18890.5,18750,18812.35,18812.35,151234,2134567.89,11234500,-250,01-DEC-2022,",
    "OPTSTK,INFY,29-Dec-2022,1600,CE,20.5,22,18,19.25,19.25,412,2540.12,880800,31200,01-DEC-2022,",
    "OPTIDX,NIFTY,29-Dec-2022,19000,PE,0,0,0,310.6,310.6,0,0,0,0,01-DEC-2022,",
]


LEGACY_DAY = date(2022, 12, 1)


def legacy_table(rows=LEGACY_ROWS):
    text = "\n".join([LEGACY_HEADER, *rows]) + "\n"
    return FO.to_canonical(FO.parse(text.encode(), LEGACY_DAY, "fo01DEC2022bhav.csv"))


def test_legacy_layout_maps_names_and_units():
    rows = legacy_table().to_pylist()
    future, call, untraded = rows
    assert future["instrument_type"] == "IDF" and call["instrument_type"] == "STO" and untraded["instrument_type"] == "IDO"
    assert future["strike_price"] is None and future["option_type"] is None
    assert call["strike_price"] == 1600.0 and call["option_type"] == "CE"
    assert future["expiry_date"] == date(2022, 12, 29)
    assert future["turnover"] == 213456789000.0  # 2,134,567.89 lakh rupees
    assert call["turnover"] == 254012000.0
    assert future["volume"] == 151234 and future["open_interest"] == 11234500 and future["change_in_oi"] == -250
    assert future["trades"] is None and future["lot_size"] is None and future["prev_close"] is None
    assert {row["source_format"] for row in rows} == {"legacy"}


def test_untraded_options_with_zero_prices_are_kept():
    checked = FO.validate(legacy_table(), LEGACY_DAY, "f.csv")
    assert checked.rejects.num_rows == 0 and checked.good.num_rows == 3


@pytest.mark.parametrize("row, reason", [
    ("OPTSTK,INFY,29-Dec-2022,1600,XX,20.5,22,18,19.25,19.25,412,2540.12,880800,31200,01-DEC-2022,",
     "option without an option type or a positive strike"),
    ("FUTSTK,INFY,29-Dec-2022,1600,CE,20.5,22,18,19.25,19.25,412,2540.12,880800,31200,01-DEC-2022,",
     "future with an option type or strike"),
    ("OPTSTK,INFY,29-Dec-2022,1600,CE,20.5,22,18,-1,19.25,412,2540.12,880800,31200,01-DEC-2022,",
     "negative close"),
    ("OPTSTK,INFY,29-Dec-2022,1600,CE,20.5,17,18,17.5,19.25,412,2540.12,880800,31200,01-DEC-2022,",
     "high < low"),
    ("OPTSTK,INFY,29-Dec-2022,1600,CE,20.5,22,18,19.25,19.25,412,2540.12,-5,31200,01-DEC-2022,",
     "negative open_interest"),
])
def test_fo_rules_reject_with_reason(row, reason):
    checked = FO.validate(legacy_table(LEGACY_ROWS[:1] + [row]), LEGACY_DAY, "f.csv")
    assert checked.good.num_rows == 1
    assert reason in checked.rejects["reason"][0].as_py()


def test_repeated_contract_is_a_duplicate():
    checked = FO.validate(legacy_table(LEGACY_ROWS + [LEGACY_ROWS[1]]), LEGACY_DAY, "f.csv")
    assert checked.rejects["reason"].to_pylist() == ["duplicate row"]


def test_cm_file_is_not_an_fo_file():
    text = member_text(DATA / "cm01DEC2022bhav.csv.zip").encode()
    with pytest.raises(BhavcopyError, match="unknown header"):
        FO.parse(text, date(2022, 12, 1), "fo01DEC2022bhav.csv")


def test_traded_close_outside_range_is_counted_not_rejected():
    row = "OPTSTK,INFY,29-Dec-2022,1600,PE,20.5,22,18,25,19.25,412,2540.12,880800,31200,01-DEC-2022,"
    checked = FO.validate(legacy_table(LEGACY_ROWS + [row]), LEGACY_DAY, "f.csv")
    assert checked.good.num_rows == 4 and checked.warning_rows == 1
    assert isinstance(checked.good.schema.field("strike_price").type, pa.DataType)


OLD_ROWS = [
    "OPTSTK,RELIANCE,27-May-2010,1060,CA,28.1,32.4,25.55,30.9,30.9,3890,10610.15,1006250,281750,29-APR-2010,",
    "OPTSTK,RELIANCE,27-May-2010,1060,PA,25.9,27,21.6,22.45,22.45,2017,5463.28,574500,160000,29-APR-2010,",
    "OPTIDX,NIFTY,27-May-2010,5200,CE,131,152.9,124.1,145.6,145.6,122914,33796.5,4822950,1410700,29-APR-2010,",
    "FUTIDX,NIFTY,27-May-2010,0,XX,5239,5274.5,5228.15,5262.6,5262.6,398120,104615.4,29877100,14620350,29-APR-2010,",
]
OLD_DAY = date(2010, 4, 29)


def old_table(rows):
    text = "\n".join([LEGACY_HEADER, *rows]) + "\n"
    return FO.to_canonical(FO.parse(text.encode(), OLD_DAY, "fo29APR2010bhav.csv"))


def test_american_stock_options_are_options_with_their_style():
    """CA/PA (American-style stock options until about 2010/2011) read as CE/PE, exercise_style american."""
    checked = FO.validate(old_table(OLD_ROWS), OLD_DAY, "f.csv")
    assert checked.rejects.num_rows == 0
    rows = [(r["instrument_type"], r["strike_price"], r["option_type"], r["exercise_style"], r["expiry_date"])
            for r in checked.good.to_pylist()]
    assert rows == [("STO", 1060.0, "CE", "american", date(2010, 5, 27)), ("STO", 1060.0, "PE", "american", date(2010, 5, 27)),
                    ("IDO", 5200.0, "CE", "european", date(2010, 5, 27)), ("IDF", None, None, None, date(2010, 5, 27))]


def test_an_american_and_a_european_contract_of_one_strike_are_two_rows():
    european = OLD_ROWS[0].replace(",CA,", ",CE,")
    checked = FO.validate(old_table([OLD_ROWS[0], european]), OLD_DAY, "f.csv")
    assert checked.rejects.num_rows == 0
    assert [r["exercise_style"] for r in checked.good.to_pylist()] == ["american", "european"]


@pytest.mark.parametrize("row, kind", [
    ("FUTIVX,INDIAVIX,03-Jul-2018,0,XX,13.0575,13.2,12.905,12.95,12.95,62,3.69,24200,5500,28-JUN-2018,", "future"),
    ("OPTCUR,USDINR,26-Jul-2018,68.5,CE,0.3,0.35,0.28,0.31,0.31,12,8.22,4000,1000,28-JUN-2018,", "option"),
    ("NEWINST,XYZ,26-Jul-2018,100,PE,1,1,1,1,1,1,1,1,0,28-JUN-2018,", "option"),
])
def test_other_instruments_are_kept_as_written_and_classified_by_their_option_type(row, kind):
    canonical = FO.to_canonical(FO.parse("\n".join([LEGACY_HEADER, row]).encode() + b"\n", date(2018, 6, 28), "f.csv"))
    checked = FO.validate(canonical, date(2018, 6, 28), "f.csv")
    assert checked.rejects.num_rows == 0
    good = checked.good.to_pylist()[0]
    assert good["instrument_type"] == row.split(",")[0]
    assert (good["option_type"] is None and good["strike_price"] is None) == (kind == "future")


def test_a_future_with_a_strike_is_kept_as_written_and_rejected():
    row = "FUTIDX,NIFTY,27-May-2010,5000,XX,5239,5274.5,5228.15,5262.6,5262.6,398120,104615.4,29877100,14620350,29-APR-2010,"
    checked = FO.validate(old_table([row, OLD_ROWS[2]]), OLD_DAY, "f.csv")
    assert checked.rejects.to_pylist()[0]["strike_price"] == 5000.0
    assert checked.rejects["reason"].to_pylist() == ["future with an option type or strike"]


def test_a_cm_udiff_file_is_not_an_fo_file():
    text = member_text(DATA / "BhavCopy_NSE_CM_0_0_0_20250618_F_0000.csv.zip").encode()
    with pytest.raises(BhavcopyError, match=r"^2025-06-18 f\.csv: wrong file: Sgmt is CM, expected FO"):
        FO.peek(text, date(2025, 6, 18), "f.csv")
