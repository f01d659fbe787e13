"""Index closes: `ind_close_all_DDMMYYYY.csv` on the archive host, a plain CSV, one layout.

Header `Index Name,Index Date,Open Index Value,High Index Value,Low Index Value,Closing Index Value,
Points Change,Change(%),Volume,Turnover (Rs. Cr.),P/E,P/B,Div Yield`; `Index Date` is DD-MM-YYYY
and must be the requested day. NSE prints `-` for a value it has none of (India VIX has only a
close; new indices lack open, high and low): null here. Changes can be bare decimals (`-.77`).
`turnover` is rupees (the file's crores x 10,000,000, kept to the paisa); about 90-160 indices a day.

Rules, only the impossible: a row is rejected for a missing index name; a missing or non-positive
close; a negative open, high, low, volume or turnover; high < low; or a repeated index name.
"""
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from .. import quality
from ..dataset import Dataset
from ..formats import CsvFormat
from ..schema import INDEX_CLOSE
from ..routes import Route

IND_CLOSE_ALL = CsvFormat(
    name="ind_close_all",
    types={
        "Index Name": pa.string(), "Index Date": pa.date32(), "Open Index Value": pa.float64(),
        "High Index Value": pa.float64(), "Low Index Value": pa.float64(), "Closing Index Value": pa.float64(),
        "Points Change": pa.float64(), "Change(%)": pa.float64(), "Volume": pa.int64(),
        "Turnover (Rs. Cr.)": pa.float64(), "P/E": pa.float64(), "P/B": pa.float64(), "Div Yield": pa.float64(),
    },
    signature=("Index Name", "Closing Index Value"),
    date_column="Index Date",
    text_dates=("Index Date",),
    date_formats=("%d-%m-%Y",),
    dashes=True,  # values are padded and "-" means none
)

SOURCES = {
    "trade_date": "Index Date", "index_name": "Index Name", "open": "Open Index Value",
    "high": "High Index Value", "low": "Low Index Value", "close": "Closing Index Value",
    "points_change": "Points Change", "change_pct": "Change(%)", "volume": "Volume",
    "pe": "P/E", "pb": "P/B", "div_yield": "Div Yield",
}


def crores_to_rupees(values) -> pa.Array:
    """1 crore = 10,000,000 rupees; kept to the paisa."""
    return pc.round(pc.multiply(values.cast(pa.float64()), 10_000_000.0), 2)


def canonical(staged: pa.Table, fmt: str) -> dict:
    columns = {name: staged[column] for name, column in SOURCES.items()}
    columns["turnover"] = crores_to_rupees(staged["Turnover (Rs. Cr.)"])
    return columns


def rules(table: pa.Table) -> list:
    # An index always has a close (India VIX has nothing else): a row without a positive one cannot be true.
    checks = [quality.missing_text(table, "index_name"),
              ("missing or non-positive close", pc.fill_null(pc.less_equal(table["close"], 0), True))]
    checks += [quality.negative(table, name) for name in ("open", "high", "low", "volume", "turnover")]
    checks.append(quality.high_below_low(table))
    return checks


def _name(day: date) -> str:
    return f"ind_close_all_{day:%d%m%Y}.csv"


DATASET = Dataset(
    name="indices",
    # The earliest ind_close_all day seen in use (not NSE's documented first day, which is not known):
    # a backfill asks nothing before it, so a default run from 1994 raises no false alarm.
    starts=date(2013, 1, 1),
    table="index_close",
    zipped=False,
    routes=(Route("indices-archive", lambda d: f"/content/indices/{_name(d)}", _name),),
    formats=(IND_CLOSE_ALL,),
    schema=INDEX_CLOSE,
    key=("index_name",),
    order_by=("trade_date", "index_name"),
    canonical=canonical,
    rules=rules,
    low_cardinality=("index_name", "source_format"),
)
