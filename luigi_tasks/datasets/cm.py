"""Capital-market (equity) bhavcopy, from 1994-11-03: legacy `cm…bhav.csv.zip` until 2024-07-05, UDiFF after.

Layouts, by era (how sure: "seen" = in real files or users' reports, "about" = the exact day unknown):
- 1994-11-03 to about 2010/2011: legacy, 11 columns `SYMBOL,…,TOTTRDVAL,TIMESTAMP,` (no TOTALTRADES,
  no ISIN; seen still so on 2007-08-29). Until about 2005 the TIMESTAMP day is not zero-padded
  (`8-MAY-1995`, `2-JAN-2004`, seen); some files have CRLF line endings (seen).
- about 2011 to 2024-07-05: legacy, 13 columns `…,TIMESTAMP,TOTALTRADES,ISIN,` (seen on 2022-12-01).
  Both legacy eras: a trailing comma on every line, but a few days lack it (users' reports); one
  day has a two-digit year (`13-Jul-20`, 2020-07-13).
- from 2024-07-08 (NSE also serves 2024-07-05): UDiFF, 34 columns, ISO dates, `Sgmt` = CM.
One legacy CsvFormat reads both legacy eras (TOTALTRADES and ISIN optional), so the day the 13-column
layout starts need not be known.

Rules (reject only what cannot be true): a missing symbol or series; a negative open, high, low,
close, last or prev_close; high < low; a negative volume, turnover or trades; or a repeated
(symbol, series). An empty value is null, not a reject: NSE leaves `LastPric` empty on traded debt
rows (ZT, YT). Zero prices are kept (NSE prints LAST 0.0 on some debt rows, e.g. SREIBNPNCD NT on
2022-12-02). A close or open outside [low, high] is kept (trade-for-trade series publish a close
that was not traded) and counted as `price_outside_range_rows`.
"""
import json
from datetime import date

import pyarrow as pa

from .. import quality
from ..dataset import Dataset
from ..formats import CsvFormat
from ..schema import CM_BHAVCOPY
from ..routes import UDIFF_FROM, Route, mon
from .udiff import udiff_format

LEGACY = CsvFormat(
    name="legacy",
    types={
        "SYMBOL": pa.string(), "SERIES": pa.string(), "OPEN": pa.float64(), "HIGH": pa.float64(),
        "LOW": pa.float64(), "CLOSE": pa.float64(), "LAST": pa.float64(), "PREVCLOSE": pa.float64(),
        "TOTTRDQTY": pa.int64(), "TOTTRDVAL": pa.float64(), "TIMESTAMP": pa.date32(),
        "TOTALTRADES": pa.int64(), "ISIN": pa.string(),
    },
    signature=("SYMBOL", "SERIES", "TIMESTAMP"),
    date_column="TIMESTAMP",
    optional=("TOTALTRADES", "ISIN"),  # files from before about 2011 lack them
    text_dates=("TIMESTAMP",),
)
UDIFF = udiff_format(segment="CM")

SOURCES = {
    "legacy": {
        "trade_date": "TIMESTAMP", "symbol": "SYMBOL", "series": "SERIES", "isin": "ISIN",
        "open": "OPEN", "high": "HIGH", "low": "LOW", "close": "CLOSE", "last": "LAST",
        "prev_close": "PREVCLOSE", "volume": "TOTTRDQTY", "turnover": "TOTTRDVAL", "trades": "TOTALTRADES",
    },
    "udiff": {
        "trade_date": "TradDt", "symbol": "TckrSymb", "series": "SctySrs", "isin": "ISIN",
        "open": "OpnPric", "high": "HghPric", "low": "LwPric", "close": "ClsPric", "last": "LastPric",
        "prev_close": "PrvsClsgPric", "volume": "TtlTradgVol", "turnover": "TtlTrfVal", "trades": "TtlNbOfTxsExctd",
    },
}


def canonical(staged: pa.Table, fmt: str) -> dict:
    return {name: staged[column] for name, column in SOURCES[fmt].items()}


def rules(table: pa.Table) -> list:
    checks = [quality.missing_text(table, "symbol"), quality.missing_text(table, "series")]
    checks += [quality.negative(table, name) for name in ("open", "high", "low", "close", "last", "prev_close")]
    checks.append(quality.high_below_low(table))
    checks += [quality.negative(table, name) for name in ("volume", "turnover", "trades")]
    return checks


def _udiff_name(day: date) -> str:
    return f"BhavCopy_NSE_CM_0_0_0_{day:%Y%m%d}_F_0000.csv"


def _legacy_name(day: date) -> str:
    return f"cm{day:%d}{mon(day)}{day:%Y}bhav.csv"


# The main site's reports API serves old days the archive no longer does (jugaad-data, 2026).
REPORT = [{"name": "CM - Bhavcopy(csv)", "type": "daily-reports", "category": "capital-market", "section": "equities"}]


def _report_query(day: date) -> dict:
    return {"archives": json.dumps(REPORT, separators=(",", ":")), "date": day.strftime("%d-%b-%Y"),
            "type": "equities", "mode": "single"}


DATASET = Dataset(
    name="cm",
    table="cm_bhavcopy",
    metric_prefix="",  # the equity bhavcopy's metrics keep their plain names (rows_loaded)
    starts=date(1994, 11, 3),
    zipped=True,
    routes=(
        Route("cm-udiff", lambda d: f"/content/cm/{_udiff_name(d)}.zip", _udiff_name, starts=UDIFF_FROM),
        Route("cm-legacy", lambda d: f"/content/historical/EQUITIES/{d:%Y}/{mon(d)}/{_legacy_name(d)}.zip",
              _legacy_name, ends=UDIFF_FROM),
        Route("cm-reports-api", lambda d: "/api/reports", _legacy_name, ends=UDIFF_FROM, query=_report_query),
    ),
    formats=(UDIFF, LEGACY),
    schema=CM_BHAVCOPY,
    key=("symbol", "series"),
    order_by=("trade_date", "symbol", "series"),
    canonical=canonical,
    rules=rules,
    warnings=lambda good: quality.outside_low_high(good, "close", "open"),
    low_cardinality=("series", "source_format"),
    # jugaad-data's bhavcopy_save: the CSV bare, month in title case (cm01Dec2022bhav.csv).
    local_names=lambda d: [f"cm{d:%d%b%Y}bhav.csv"],
)
