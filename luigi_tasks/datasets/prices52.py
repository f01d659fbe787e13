"""Prices with the 52-week high and low: the `Pd` member of NSE's PR zip (pr_archive.py).

Header `MKT,SERIES,SYMBOL,SECURITY,PREV_CL_PR,OPEN_PRICE,HIGH_PRICE,LOW_PRICE,CLOSE_PRICE,NET_TRDVAL,
NET_TRDQTY,IND_SEC,CORP_IND,TRADES,HI_52_WK,LO_52_WK`; numbers padded with spaces; `NET_TRDVAL` is
rupees. The file carries no trade date: the member's name is the day's. It shares the day's raw zip
with `actions` (whichever downloads first fetches it, the other copies it).

The file is a report, not a table: index rows (MKT `Y`, blank series and symbol), section headings
(`NIFTY Next 50 Sec`) and blank spacer lines sit among the securities. They are not dropped: they go
to the rejects with their reason (index closes are the `indices` dataset). `security` is in the key
so that index rows and headings, all without a symbol, are not duplicates of each other.

Rules: besides those lines, a row is rejected for a missing series or close; a negative price,
volume, turnover or trade count; high < low; or a 52-week high below the 52-week low. A close or
open outside [low, high] is kept and counted.
"""
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from .. import formats, pr_archive, quality
from ..dataset import Dataset
from ..formats import CsvFormat
from ..schema import PRICES52

PD = CsvFormat(
    name="pd",
    types={
        "MKT": pa.string(), "SERIES": pa.string(), "SYMBOL": pa.string(), "SECURITY": pa.string(),
        "PREV_CL_PR": pa.float64(), "OPEN_PRICE": pa.float64(), "HIGH_PRICE": pa.float64(),
        "LOW_PRICE": pa.float64(), "CLOSE_PRICE": pa.float64(), "NET_TRDVAL": pa.float64(),
        "NET_TRDQTY": pa.int64(), "IND_SEC": pa.string(), "CORP_IND": pa.string(), "TRADES": pa.int64(),
        "HI_52_WK": pa.float64(), "LO_52_WK": pa.float64(),
    },
    signature=("MKT", "HI_52_WK"),
    date_column=None,
    dashes=True,  # values are padded and "-" means none
)

SOURCES = {
    "symbol": "SYMBOL", "series": "SERIES", "security": "SECURITY", "prev_close": "PREV_CL_PR",
    "open": "OPEN_PRICE", "high": "HIGH_PRICE", "low": "LOW_PRICE", "close": "CLOSE_PRICE",
    "turnover": "NET_TRDVAL", "volume": "NET_TRDQTY", "trades": "TRADES", "hi_52_wk": "HI_52_WK",
    "lo_52_wk": "LO_52_WK", "index_security": "IND_SEC", "corp_ind": "CORP_IND",
}


def canonical(staged: pa.Table, fmt: str) -> dict:
    columns = {name: staged[column] for name, column in SOURCES.items()}
    columns["trade_date"] = pa.array([formats.day_of(staged)] * staged.num_rows, pa.date32())
    columns["market"] = staged["MKT"]
    return columns


def rules(table: pa.Table) -> list:
    no_symbol = pc.fill_null(pc.equal(table["symbol"], ""), True)
    index_row = pc.and_(no_symbol, pc.fill_null(pc.equal(table["market"], "Y"), False))
    security = pc.invert(no_symbol)

    def only_securities(check):
        reason, mask = check
        return reason, pc.and_(security, mask)

    checks = [("index row (no symbol; index closes are the indices dataset)", index_row),
              ("section heading or blank line (no symbol)", pc.and_(no_symbol, pc.invert(index_row)))]
    checks += [only_securities(quality.missing_text(table, "series")), only_securities(quality.missing(table, "close"))]
    for name in ("prev_close", "open", "high", "low", "close", "volume", "turnover", "trades"):
        checks.append(only_securities(quality.negative(table, name)))
    checks.append(only_securities(quality.high_below_low(table)))
    checks.append(("hi_52_wk below lo_52_wk", pc.and_(security, pc.fill_null(
        pc.less(table["hi_52_wk"], table["lo_52_wk"]), False))))
    return checks


DATASET = Dataset(
    name="prices52",
    # The earliest PR archive day seen in use (not NSE's documented first day, which is not known):
    # a backfill asks nothing before it, so a default run from 1994 raises no false alarm.
    starts=date(2010, 1, 1),
    table="prices52",
    zipped=True,
    routes=(pr_archive.route("Pd"),),
    formats=(PD,),
    schema=PRICES52,
    key=("symbol", "series", "security"),
    order_by=("trade_date", "symbol", "series"),
    canonical=canonical,
    rules=rules,
    warnings=lambda good: quality.outside_low_high(good, "close", "open"),
    low_cardinality=("market", "series", "index_security", "corp_ind", "source_format"),
    member=pr_archive.member_names("Pd"),
    shares_raw_with=pr_archive.siblings("prices52"),
)
