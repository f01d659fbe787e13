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

from tests.support import DATA
from tests.nse_server import member_text

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


# ---- every era's quirks, and robustness ----

OLD_HEADER = "SYMBOL,SERIES,OPEN,HIGH,LOW,CLOSE,LAST,PREVCLOSE,TOTTRDQTY,TOTTRDVAL,TIMESTAMP"
OLD_ROWS = ["RELIANCE,EQ,254.5,258.75,253,257.6,257.5,254.05,236400,60784350,8-MAY-1995",
            "M&M,EQ,318.5,323,316,321.2,321,317.85,19900,6361532.5,8-MAY-1995"]
OLD_DAY = date(1995, 5, 8)


def old_table(text: str):
    return CM.to_canonical(CM.parse(text.encode(), OLD_DAY, "cm08MAY1995bhav.csv")).to_pylist()


EXPECTED_OLD = old_table("\n".join([OLD_HEADER + ","] + [row + "," for row in OLD_ROWS]) + "\n")


def test_old_layout_unpadded_day_and_crlf():
    assert [(r["symbol"], r["close"], r["volume"], r["trade_date"]) for r in EXPECTED_OLD] == [
        ("RELIANCE", 257.6, 236400, OLD_DAY), ("M&M", 321.2, 19900, OLD_DAY)]
    assert old_table("\r\n".join([OLD_HEADER + ","] + [row + "," for row in OLD_ROWS]) + "\r\n") == EXPECTED_OLD


@pytest.mark.parametrize("header_comma, row_comma", [(True, False), (False, True), (False, False)])
def test_trailing_comma_on_the_header_or_the_rows_or_neither(header_comma, row_comma):
    text = "\n".join([OLD_HEADER + ("," if header_comma else "")] + [row + ("," if row_comma else "") for row in OLD_ROWS])
    assert old_table(text + "\n") == EXPECTED_OLD


def test_a_csv_with_every_field_quoted_is_read():
    def quoted(line):
        return ",".join(f'"{field}"' for field in line.split(","))
    text = "\n".join([quoted(OLD_HEADER)] + [quoted(row) for row in OLD_ROWS]) + "\n"
    assert CM.peek(text.encode(), OLD_DAY, "f.csv") == "legacy"
    assert old_table(text) == EXPECTED_OLD


@pytest.mark.parametrize("tail", ["   \n", " ", "\r\n \r\n", "\t\n\n"])
def test_a_trailing_whitespace_only_line_is_ignored(tail):
    text = "\n".join([OLD_HEADER] + OLD_ROWS) + "\n" + tail
    assert old_table(text) == EXPECTED_OLD


def test_a_row_with_another_field_count_than_the_header_is_refused():
    text = "\n".join([OLD_HEADER, OLD_ROWS[0] + ",1,2"]) + "\n"
    with pytest.raises(BhavcopyError, match=r"^1995-05-08 f\.csv: first row has 13 fields, the header 11"):
        CM.peek(text.encode(), OLD_DAY, "f.csv")


def test_text_fields_are_stripped_and_keys_compared_stripped():
    """NSE pads some symbols ('SGBJUN28 '): the lake holds 'SGBJUN28', and a padded copy is a duplicate."""
    lines = UDIFF.decode().splitlines()
    padded = lines[1].replace(",SGBJUN28,", ",SGBJUN28 ,", 1).replace(",GB,", ", GB ,", 1)
    text = "\n".join([lines[0], padded, lines[1], lines[2]]) + "\n"
    canonical = CM.to_canonical(CM.parse(text.encode(), UDIFF_DAY, "f.csv"))
    assert canonical["symbol"].to_pylist()[:2] == ["SGBJUN28", "SGBJUN28"] and canonical["series"][0].as_py() == "GB"
    checked = CM.validate(canonical, UDIFF_DAY, "f.csv")
    assert checked.rejects["reason"].to_pylist() == ["duplicate row"] and checked.good.num_rows == 2


def test_an_empty_last_price_is_null_not_a_reject():
    lines = UDIFF.decode().splitlines()
    debt = next(line for line in lines if ",ZK," in line)
    fields = debt.split(",")
    fields[18] = ""  # LastPric, as NSE leaves it on traded debt rows
    text = "\n".join([lines[0], ",".join(fields), lines[1]]) + "\n"
    checked = CM.validate(CM.to_canonical(CM.parse(text.encode(), UDIFF_DAY, "f.csv")), UDIFF_DAY, "f.csv")
    assert checked.rejects.num_rows == 0
    row = checked.good.to_pylist()[0]
    assert (row["series"], row["last"], row["close"], row["volume"]) == ("ZK", None, float(fields[17]), int(fields[24]))


def test_an_fo_udiff_file_is_not_a_cm_file():
    fo = member_bytes("BhavCopy_NSE_FO_0_0_0_20250203_F_0000.csv.zip")
    with pytest.raises(BhavcopyError, match=r"^2025-02-03 f\.csv: wrong file: Sgmt is FO, expected CM"):
        CM.peek(fo, date(2025, 2, 3), "f.csv")
    with pytest.raises(BhavcopyError, match="wrong file: Sgmt is FO, expected CM"):
        CM.parse(fo[:5000].rsplit(b"\n", 1)[0] + b"\n", date(2025, 2, 3), "f.csv")


def test_a_file_mixing_segments_is_refused_by_parse():
    text = UDIFF.decode().replace(",CM,NSE,STK,1342,", ",FO,NSE,STK,1342,", 1)
    CM.peek(text.encode(), UDIFF_DAY, "f.csv")  # the first row is CM: the cheap check passes
    with pytest.raises(BhavcopyError, match="wrong file: Sgmt is CM, FO, expected CM"):
        CM.parse(text.encode(), UDIFF_DAY, "f.csv")


def test_a_legacy_fo_file_is_not_a_cm_file():
    text = ("INSTRUMENT,SYMBOL,EXPIRY_DT,STRIKE_PR,OPTION_TYP,OPEN,HIGH,LOW,CLOSE,SETTLE_PR,CONTRACTS,VAL_INLAKH,"
            "OPEN_INT,CHG_IN_OI,TIMESTAMP,\nFUTIDX,NIFTY,29-Dec-2022,0,XX,1,2,1,1.5,1.5,10,1,50,0,01-DEC-2022,\n")
    with pytest.raises(BhavcopyError, match="unknown header, not udiff or legacy"):
        CM.peek(text.encode(), LEGACY_DAY, "f.csv")


def test_padded_numbers_are_read_as_their_values():
    """Arrow's number parser refuses ' 257.6'; such a file is read as text, trimmed, then typed."""
    padded = [", ".join(row.split(",")) for row in OLD_ROWS]
    assert old_table("\n".join([OLD_HEADER] + padded) + "\n") == EXPECTED_OLD
