"""F&O bhavcopy: legacy `fo…bhav.csv.zip` until 2024-07-05, UDiFF after (30k-41k rows a day).

Units: `volume` counts contracts; `open_interest` and `change_in_oi` are in shares (units of the
underlying); `turnover` is rupees (legacy `VAL_INLAKH` x 100,000). Legacy instrument names map to
UDiFF's codes (FUTIDX->IDF, FUTSTK->STF, OPTIDX->IDO, OPTSTK->STO; any other is kept as written);
a future's strike (legacy 0) and option type (legacy XX, UDiFF empty) are null.

Rules: a row is rejected for a missing instrument type, symbol or expiry date; an option without
CE/PE or without a positive strike; a future with an option type or strike; a negative open, high,
low, close or settle price (zero is allowed: untraded contracts show zero prices); high < low; a
negative volume, turnover or open interest (change in OI may be negative); or a repeated
(instrument_type, symbol, expiry_date, strike_price, option_type). A traded contract (volume > 0)
whose close lies outside [low, high] is kept and counted; untraded options carry a theoretical close.
"""
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from .. import quality
from ..dataset import Dataset
from ..formats import CsvFormat, lakhs_to_rupees
from ..schema import FO_BHAVCOPY
from ..source import UDIFF_FROM, Route, mon
from .udiff import udiff_format

LEGACY = CsvFormat(
    name="legacy",
    types={
        "INSTRUMENT": pa.string(), "SYMBOL": pa.string(), "EXPIRY_DT": pa.date32(), "STRIKE_PR": pa.float64(),
        "OPTION_TYP": pa.string(), "OPEN": pa.float64(), "HIGH": pa.float64(), "LOW": pa.float64(),
        "CLOSE": pa.float64(), "SETTLE_PR": pa.float64(), "CONTRACTS": pa.int64(), "VAL_INLAKH": pa.float64(),
        "OPEN_INT": pa.int64(), "CHG_IN_OI": pa.int64(), "TIMESTAMP": pa.date32(),
    },
    signature=("INSTRUMENT", "EXPIRY_DT"),
    date_column="TIMESTAMP",
    text_dates=("EXPIRY_DT", "TIMESTAMP"),
)
UDIFF = udiff_format()

LEGACY_INSTRUMENTS = {"FUTIDX": "IDF", "FUTSTK": "STF", "OPTIDX": "IDO", "OPTSTK": "STO"}
OPTIONS = ["IDO", "STO"]


def canonical(staged: pa.Table, fmt: str) -> dict:
    if fmt == "udiff":
        return {
            "trade_date": staged["TradDt"], "instrument_type": staged["FinInstrmTp"], "symbol": staged["TckrSymb"],
            "expiry_date": staged["XpryDt"], "strike_price": staged["StrkPric"], "option_type": staged["OptnTp"],
            "open": staged["OpnPric"], "high": staged["HghPric"], "low": staged["LwPric"], "close": staged["ClsPric"],
            "settle_price": staged["SttlmPric"], "prev_close": staged["PrvsClsgPric"],
            "underlying_price": staged["UndrlygPric"], "volume": staged["TtlTradgVol"], "turnover": staged["TtlTrfVal"],
            "open_interest": staged["OpnIntrst"], "change_in_oi": staged["ChngInOpnIntrst"],
            "trades": staged["TtlNbOfTxsExctd"], "lot_size": staged["NewBrdLotQty"],
        }
    instrument = staged["INSTRUMENT"]
    mapped = pc.index_in(instrument, value_set=pa.array(list(LEGACY_INSTRUMENTS)))
    codes = pc.take(pa.array(list(LEGACY_INSTRUMENTS.values())), mapped)
    no_option = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(staged["OPTION_TYP"]), "XX"), False)
    return {
        "trade_date": staged["TIMESTAMP"], "instrument_type": pc.coalesce(codes, instrument),
        "symbol": staged["SYMBOL"], "expiry_date": staged["EXPIRY_DT"],
        "strike_price": pc.if_else(no_option, pa.scalar(None, pa.float64()), staged["STRIKE_PR"]),
        "option_type": pc.if_else(no_option, pa.scalar(None, pa.string()), staged["OPTION_TYP"]),
        "open": staged["OPEN"], "high": staged["HIGH"], "low": staged["LOW"], "close": staged["CLOSE"],
        "settle_price": staged["SETTLE_PR"], "volume": staged["CONTRACTS"],
        "turnover": lakhs_to_rupees(staged["VAL_INLAKH"]),
        "open_interest": staged["OPEN_INT"], "change_in_oi": staged["CHG_IN_OI"],
    }


def rules(table: pa.Table) -> list:
    is_option = pc.fill_null(pc.is_in(table["instrument_type"], value_set=pa.array(OPTIONS)), False)
    good_option = pc.and_(
        pc.fill_null(pc.is_in(table["option_type"], value_set=pa.array(["CE", "PE"])), False),
        pc.fill_null(pc.greater(table["strike_price"], 0), False),
    )
    future_with_option = pc.or_(pc.is_valid(table["option_type"]), pc.is_valid(table["strike_price"]))
    checks = [quality.missing_text(table, "instrument_type"), quality.missing_text(table, "symbol"),
              quality.missing(table, "expiry_date"),
              ("option without CE/PE and a positive strike", pc.and_(is_option, pc.invert(good_option))),
              ("future with an option type or strike", pc.and_(pc.invert(is_option), future_with_option))]
    checks += [quality.negative(table, name) for name in ("open", "high", "low", "close", "settle_price")]
    checks.append(quality.high_below_low(table))
    checks += [quality.negative(table, name) for name in ("volume", "turnover", "open_interest")]
    return checks


def traded_outside_low_high(good: pa.Table) -> int:
    return quality.outside_low_high(good.filter(pc.greater(good["volume"], 0)), "close")


def _udiff_name(day: date) -> str:
    return f"BhavCopy_NSE_FO_0_0_0_{day:%Y%m%d}_F_0000.csv"


def _legacy_name(day: date) -> str:
    return f"fo{day:%d}{mon(day)}{day:%Y}bhav.csv"


DATASET = Dataset(
    name="fo",
    table="fo_bhavcopy",
    zipped=True,
    routes=(
        Route("fo-udiff", lambda d: f"/content/fo/{_udiff_name(d)}.zip", _udiff_name, starts=UDIFF_FROM),
        Route("fo-legacy", lambda d: f"/content/historical/DERIVATIVES/{d:%Y}/{mon(d)}/{_legacy_name(d)}.zip",
              _legacy_name, ends=UDIFF_FROM),
    ),
    formats=(UDIFF, LEGACY),
    schema=FO_BHAVCOPY,
    key=("instrument_type", "symbol", "expiry_date", "strike_price", "option_type"),
    order_by=("trade_date", "symbol", "instrument_type", "expiry_date"),
    canonical=canonical,
    rules=rules,
    warnings=traded_outside_low_high,
    low_cardinality=("instrument_type", "option_type", "source_format"),
    # jugaad-data's bhavcopy_fo_save: the CSV bare, month in title case (fo01Dec2022bhav.csv).
    local_names=lambda d: [f"fo{d:%d%b%Y}bhav.csv"],
)
