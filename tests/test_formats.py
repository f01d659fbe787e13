"""The two CM layouts: header recognition, explicit types, legacy quirks, canonical mapping."""
from datetime import date

import pyarrow as pa
import pytest

from luigi_tasks import formats
from luigi_tasks.datasets import DATASETS
from luigi_tasks.datasets.cm import LEGACY as LEGACY_FORMAT
from luigi_tasks.errors import BhavcopyError
from luigi_tasks.schema import CM_BHAVCOPY

CM = DATASETS["cm"]

from conftest import DATA
from nse_server import member_text

LEGACY_DAY = date(2022, 12, 1)
UDIFF_DAY = date(2025, 6, 18)


def member_bytes(file_name: str) -> bytes:
    return member_text(DATA / file_name).encode()


LEGACY = member_bytes("cm01DEC2022bhav.csv.zip")
UDIFF = member_bytes("BhavCopy_NSE_CM_0_0_0_20250618_F_0000.csv.zip")
LEGACY_HEADER = "SYMBOL,SERIES,OPEN,HIGH,LOW,CLOSE,LAST,PREVCLOSE,TOTTRDQTY,TOTTRDVAL,TIMESTAMP,TOTALTRADES,ISIN,"


def test_udiff_is_read_with_declared_types():
    table = CM.parse(UDIFF, UDIFF_DAY, "f.csv")
    assert table.num_rows == 2993
    assert table.schema.field("TradDt").type == pa.date32()
    assert table.schema.field("TtlTradgVol").type == pa.int64()
    # columns that are always empty in CM keep their declared type instead of becoming null-typed
    assert table.schema.field("StrkPric").type == pa.float64()
    assert table.schema.field("OpnIntrst").type == pa.int64()
    assert formats.format_of(table) == "udiff"


def test_legacy_trailing_comma_does_not_become_a_column():
    table = CM.parse(LEGACY, LEGACY_DAY, "f.csv")
    assert table.column_names == list(LEGACY_FORMAT.types)
    assert table.num_rows == 2339
    assert set(table["TIMESTAMP"].to_pylist()) == {LEGACY_DAY}


def test_legacy_without_trailing_comma_and_without_trades_and_isin():
    """Files from before about 2011 lack TOTALTRADES and ISIN; a few days lack the trailing comma."""
    old = "SYMBOL,SERIES,OPEN,HIGH,LOW,CLOSE,LAST,PREVCLOSE,TOTTRDQTY,TOTTRDVAL,TIMESTAMP\n" \
          "INFY,EQ,10.5,11,10,10.75,10.7,10.2,1000,10750.5,03-JAN-2005\n"
    table = CM.parse(old.encode(), date(2005, 1, 3), "cm03JAN2005bhav.csv")
    row = CM.to_canonical(table).to_pylist()[0]
    assert row["trades"] is None and row["isin"] is None
    assert row["turnover"] == 10750.5 and row["volume"] == 1000


def test_legacy_two_digit_year():
    text = LEGACY_HEADER + "\nINFY,EQ,1,2,1,1.5,1.5,1,10,15,13-Jul-20,3,INE009A01021,\n"
    table = CM.parse(text.encode(), date(2020, 7, 13), "cm13JUL2020bhav.csv")
    assert table["TIMESTAMP"].to_pylist() == [date(2020, 7, 13)]


def test_canonical_values_equal_the_source_exactly():
    canonical = CM.to_canonical(CM.parse(UDIFF, UDIFF_DAY, "f.csv"))
    assert canonical.schema.names == CM_BHAVCOPY.names
    first = canonical.to_pylist()[0]
    # 2025-06-18,...,SGBJUN28,GB,...,9900.75,9900.75,9815.00,9870.00,9870.00,9900.75,,9870.00,,,58,572965.55,10,...
    assert first == {
        "trade_date": UDIFF_DAY, "symbol": "SGBJUN28", "series": "GB", "isin": "IN0020200104",
        "open": 9900.75, "high": 9900.75, "low": 9815.0, "close": 9870.0, "last": 9870.0,
        "prev_close": 9900.75, "volume": 58, "turnover": 572965.55, "trades": 10, "source_format": "udiff",
    }


def test_wrong_date_inside_is_rejected():
    with pytest.raises(BhavcopyError, match=r"^2022-12-02 f\.csv: wrong trade date inside the file: 2022-12-01"):
        CM.parse(LEGACY, date(2022, 12, 2), "f.csv")
    with pytest.raises(BhavcopyError, match="wrong trade date"):
        CM.peek(UDIFF, date(2025, 6, 19), "f.csv")


def test_mixed_dates_inside_are_rejected():
    text = UDIFF.decode().replace("2025-06-18,2025-06-18,CM,NSE,STK,1342,", "2025-06-17,2025-06-17,CM,NSE,STK,1342,", 1)
    with pytest.raises(BhavcopyError, match="2025-06-17, 2025-06-18"):
        CM.parse(text.encode(), UDIFF_DAY, "f.csv")


def test_unknown_header_is_rejected():
    with pytest.raises(BhavcopyError, match=r"^2025-06-18 f\.csv: unknown header"):
        CM.parse(b"Date,Ticker,Price\n2025-06-18,INFY,1\n", UDIFF_DAY, "f.csv")


def test_unknown_extra_column_is_schema_drift():
    text = UDIFF.decode().replace("Rsvd4", "Rsvd4,NewCol", 1)
    with pytest.raises(BhavcopyError, match=r"schema drift: unknown column\(s\) 'NewCol'"):
        CM.peek(text.encode(), UDIFF_DAY, "f.csv")


def test_missing_required_column_is_named():
    text = LEGACY.decode().replace("PREVCLOSE,", "", 1)
    with pytest.raises(BhavcopyError, match="required column.* PREVCLOSE missing"):
        CM.parse(text.encode(), LEGACY_DAY, "f.csv")


@pytest.mark.parametrize("body, problem", [(b"", "empty file"), (LEGACY_HEADER.encode() + b"\n", "header only")])
def test_empty_and_header_only_files_are_rejected(body, problem):
    with pytest.raises(BhavcopyError, match=problem):
        CM.parse(body, LEGACY_DAY, "f.csv")


def test_bytes_that_are_not_utf8_are_rejected():
    assert b"\n20MICRONS," in LEGACY
    text = LEGACY.replace(b"\n20MICRONS,", b"\n20MICR\xff\xfeNS,", 1)
    with pytest.raises(BhavcopyError, match=r"^2022-12-01 f\.csv: .*UTF-8"):
        CM.parse(text, LEGACY_DAY, "f.csv")


def test_a_number_that_does_not_parse_fails_the_file_with_its_column():
    text = UDIFF.decode().replace(",9900.75,9900.75,9815.00,", ",abc,9900.75,9815.00,", 1)
    with pytest.raises(BhavcopyError, match=r"cannot read as udiff CSV: .*double"):
        CM.parse(text.encode(), UDIFF_DAY, "f.csv")
