"""Full bhavcopy with delivery data: `sec_bhavdata_full_DDMMYYYY.csv`, a plain CSV, one layout.

First day: 2020-01-01. NSE stopped serving this file for days before 2020 in early 2021
(tradewithpython.com's NSE EOD article, update of 2021-03-05; the nser R package documents
downloads "from 1 Jan 2020 onwards"). Fairly sure for what NSE serves today; older days exist
elsewhere (the old www1 host) but no route here reaches them. One layout since then (seen 2025).

Every value carries a leading space and BE/BZ rows print '-' for the delivery columns, which
become null. `turnover` is rupees (TURNOVER_LACS x 100,000, kept to the paisa); `volume` and
`delivery_qty` are shares. On a weekday holiday NSE has answered with the previous day's file:
the date inside (DATE1) must equal the requested day, as for every dataset.

Rules (reject only what cannot be true): a missing symbol or series; a negative price (prev_close,
open, high, low, last, close, avg_price); high < low; a negative volume, turnover or trades; a
negative delivery quantity or one above the volume; a delivery percentage outside [0, 100]; or a
repeated (symbol, series). An empty value is null, not a reject (NSE leaves LAST_PRICE blank on
traded debt rows). A close or open outside [low, high] is kept and counted.
"""
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from .. import quality
from ..dataset import Dataset
from ..formats import CsvFormat, lakhs_to_rupees
from ..schema import CM_DELIVERY
from ..routes import Route

FULL = CsvFormat(
    name="full",
    types={
        "SYMBOL": pa.string(), "SERIES": pa.string(), "DATE1": pa.date32(), "PREV_CLOSE": pa.float64(),
        "OPEN_PRICE": pa.float64(), "HIGH_PRICE": pa.float64(), "LOW_PRICE": pa.float64(),
        "LAST_PRICE": pa.float64(), "CLOSE_PRICE": pa.float64(), "AVG_PRICE": pa.float64(),
        "TTL_TRD_QNTY": pa.int64(), "TURNOVER_LACS": pa.float64(), "NO_OF_TRADES": pa.int64(),
        "DELIV_QTY": pa.int64(), "DELIV_PER": pa.float64(),
    },
    signature=("DATE1", "DELIV_QTY"),
    date_column="DATE1",
    text_dates=("DATE1",),
    dashes=True,
)

SOURCES = {
    "trade_date": "DATE1", "symbol": "SYMBOL", "series": "SERIES", "prev_close": "PREV_CLOSE",
    "open": "OPEN_PRICE", "high": "HIGH_PRICE", "low": "LOW_PRICE", "last": "LAST_PRICE",
    "close": "CLOSE_PRICE", "avg_price": "AVG_PRICE", "volume": "TTL_TRD_QNTY", "trades": "NO_OF_TRADES",
    "delivery_qty": "DELIV_QTY", "delivery_pct": "DELIV_PER",
}


def canonical(staged: pa.Table, fmt: str) -> dict:
    columns = {name: staged[column] for name, column in SOURCES.items()}
    columns["turnover"] = lakhs_to_rupees(staged["TURNOVER_LACS"])
    return columns


def rules(table: pa.Table) -> list:
    checks = [quality.missing_text(table, "symbol"), quality.missing_text(table, "series")]
    values = ("prev_close", "open", "high", "low", "last", "close", "avg_price", "volume", "turnover", "trades",
              "delivery_qty")
    checks += [quality.negative(table, name) for name in values]
    checks.append(quality.high_below_low(table))
    checks.append(("delivery_qty above volume",
                   pc.fill_null(pc.greater(table["delivery_qty"], table["volume"]), False)))
    checks.append(("delivery_pct outside [0, 100]", pc.fill_null(
        pc.or_(pc.less(table["delivery_pct"], 0), pc.greater(table["delivery_pct"], 100)), False)))
    return checks


def _name(day: date) -> str:
    return f"sec_bhavdata_full_{day:%d%m%Y}.csv"


DATASET = Dataset(
    name="delivery",
    table="cm_delivery",
    starts=date(2020, 1, 1),
    zipped=False,
    routes=(Route("delivery-archive", lambda d: f"/products/content/{_name(d)}", _name),),
    formats=(FULL,),
    schema=CM_DELIVERY,
    key=("symbol", "series"),
    order_by=("trade_date", "symbol", "series"),
    canonical=canonical,
    rules=rules,
    warnings=lambda good: quality.outside_low_high(good, "close", "open"),
    low_cardinality=("series", "source_format"),
    # jugaad-data's full_bhavcopy_save writes sec_bhavdata_full_01Dec2022bhav.csv; its docs say 01122022bhav.
    local_names=lambda d: [f"sec_bhavdata_full_{d:%d%b%Y}bhav.csv", f"sec_bhavdata_full_{d:%d%m%Y}bhav.csv"],
)
