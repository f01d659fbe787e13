"""F&O bhavcopy, from 2000-06-12: legacy `fo…bhav.csv.zip` until 2024-07-05, UDiFF after (30k-41k rows a day).

Layouts, by era (how sure: "seen" = in real files or users' reports, "about" = the exact day unknown):
- 2000-06-12 to 2024-07-05: legacy, 15 columns `INSTRUMENT,SYMBOL,EXPIRY_DT,…,TIMESTAMP` (seen).
  Index futures only at first; index options from 2001-06, stock options from 2001-07, stock
  futures from 2001-11 (so 2001 files have no FUTSTK). Stock options are American-style,
  OPTION_TYP `CA`/`PA`, until about 2010/2011 (NSE moved new stock option contracts to European
  style around the start of 2011; the exact day is not known here); index options are always
  `CE`/`PE`. EXPIRY_DT months can be mixed case (`29-Apr-2010`) while TIMESTAMP is upper case
  (seen 2010). Instruments beyond the four main ones appear, e.g. `FUTIVX` (India VIX futures,
  seen 2018).
- from 2024-07-08 (NSE also serves 2024-07-05): UDiFF, 34 columns, ISO dates, `Sgmt` = FO.

Units: `volume` counts contracts; `open_interest` and `change_in_oi` are in shares (units of the
underlying); `turnover` is rupees (legacy `VAL_INLAKH` x 100,000). Legacy instrument names map to
UDiFF's codes (FUTIDX->IDF, FUTSTK->STF, OPTIDX->IDO, OPTSTK->STO); any other (FUTIVX, ...) is
kept as written. A contract is a future when its code says so (IDF, STF, FUT...), an option when it
says so (IDO, STO, OPT...), and otherwise by whether it has an option type. A future's option type
(legacy XX, UDiFF empty) and zero strike are null.

Exercise style: legacy `CA`/`PA` are American calls and puts. They are stored as option_type CE/PE
with `exercise_style` 'american' (CE/PE rows: 'european'; futures: null), so that "calls" is one
query across 2000-2025 while the style stays visible; option_type + exercise_style give back
exactly what NSE wrote. Both are in the key, so an American and a European contract of the same
strike and expiry stay two rows.

Rules (reject only what cannot be true): a missing instrument type, symbol or expiry date; an
option without an option type or without a positive strike; a future with an option type or a
strike; a negative open, high, low, close or settle price (zero is allowed: untraded contracts show
zero prices); high < low; a negative volume, turnover, open interest or trades (change in OI may be
negative); or a repeated (instrument_type, symbol, expiry_date, strike_price, option_type,
exercise_style). An empty value is null, not a reject. A traded contract (volume > 0) whose close
lies outside [low, high] is kept and counted; untraded options carry a theoretical close.
"""
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from .. import quality
from ..dataset import Dataset
from ..formats import CsvFormat, lakhs_to_rupees
from ..schema import FO_BHAVCOPY
from ..routes import UDIFF_FROM, Route, mon
from .udiff import udiff_format

LEGACY = CsvFormat(
    name="legacy",
    types={
        "INSTRUMENT": pa.string(), "SYMBOL": pa.string(), "EXPIRY_DT": pa.date32(), "STRIKE_PR": pa.float64(),
        "OPTION_TYP": pa.string(), "OPEN": pa.float64(), "HIGH": pa.float64(), "LOW": pa.float64(),
        "CLOSE": pa.float64(), "SETTLE_PR": pa.float64(), "CONTRACTS": pa.int64(), "VAL_INLAKH": pa.float64(),
        "OPEN_INT": pa.int64(), "CHG_IN_OI": pa.int64(), "TIMESTAMP": pa.date32(),
    },
    signature=("INSTRUMENT", "EXPIRY_DT", "OPTION_TYP"),
    date_column="TIMESTAMP",
    text_dates=("EXPIRY_DT", "TIMESTAMP"),
)
UDIFF = udiff_format(segment="FO")

LEGACY_INSTRUMENTS = {"FUTIDX": "IDF", "FUTSTK": "STF", "OPTIDX": "IDO", "OPTSTK": "STO"}
OPTIONS, FUTURES = ["IDO", "STO"], ["IDF", "STF"]
STYLES = {"CE": ("CE", "european"), "PE": ("PE", "european"), "CA": ("CE", "american"), "PA": ("PE", "american")}


def _lookup(values, mapping: dict, position: int):
    """mapping[value][position] for each value; null where the value is not in the mapping."""
    index = pc.index_in(values, value_set=pa.array(list(mapping)))
    return pc.take(pa.array([entry[position] for entry in mapping.values()]), index)


def canonical(staged: pa.Table, fmt: str) -> dict:
    if fmt == "udiff":
        return {
            "trade_date": staged["TradDt"], "instrument_type": staged["FinInstrmTp"], "symbol": staged["TckrSymb"],
            "expiry_date": staged["XpryDt"], "strike_price": staged["StrkPric"], "option_type": staged["OptnTp"],
            "exercise_style": _lookup(staged["OptnTp"], STYLES, 1),
            "open": staged["OpnPric"], "high": staged["HghPric"], "low": staged["LwPric"], "close": staged["ClsPric"],
            "settle_price": staged["SttlmPric"], "prev_close": staged["PrvsClsgPric"],
            "underlying_price": staged["UndrlygPric"], "volume": staged["TtlTradgVol"], "turnover": staged["TtlTrfVal"],
            "open_interest": staged["OpnIntrst"], "change_in_oi": staged["ChngInOpnIntrst"],
            "trades": staged["TtlNbOfTxsExctd"], "lot_size": staged["NewBrdLotQty"],
        }
    instrument, written, strike = staged["INSTRUMENT"], staged["OPTION_TYP"], staged["STRIKE_PR"]
    codes = _lookup(instrument, {name: (code,) for name, code in LEGACY_INSTRUMENTS.items()}, 0)
    no_option = pc.fill_null(pc.equal(written, "XX"), True)
    zero_strike = pc.fill_null(pc.equal(strike, 0), True)
    return {
        "trade_date": staged["TIMESTAMP"], "instrument_type": pc.coalesce(codes, instrument),
        "symbol": staged["SYMBOL"], "expiry_date": staged["EXPIRY_DT"],
        "strike_price": pc.if_else(pc.and_(no_option, zero_strike), pa.scalar(None, pa.float64()), strike),
        "option_type": pc.if_else(no_option, pa.scalar(None, pa.string()),
                                  pc.coalesce(_lookup(written, STYLES, 0), written)),
        "exercise_style": _lookup(written, STYLES, 1),
        "open": staged["OPEN"], "high": staged["HIGH"], "low": staged["LOW"], "close": staged["CLOSE"],
        "settle_price": staged["SETTLE_PR"], "volume": staged["CONTRACTS"],
        "turnover": lakhs_to_rupees(staged["VAL_INLAKH"]),
        "open_interest": staged["OPEN_INT"], "change_in_oi": staged["CHG_IN_OI"],
    }


def _kind(table: pa.Table, codes: list, prefix: str):
    instrument = table["instrument_type"]
    return pc.fill_null(pc.or_(pc.is_in(instrument, value_set=pa.array(codes)), pc.starts_with(instrument, prefix)), False)


def is_option(table: pa.Table):
    """By the instrument's code (IDO, STO, OPT...; IDF, STF, FUT... are futures), else by its option type."""
    future = _kind(table, FUTURES, "FUT")
    by_type = pc.and_(pc.invert(future), pc.is_valid(table["option_type"]))
    return pc.or_(_kind(table, OPTIONS, "OPT"), by_type)


def rules(table: pa.Table) -> list:
    option = is_option(table)
    good_option = pc.and_(pc.is_valid(table["option_type"]), pc.fill_null(pc.greater(table["strike_price"], 0), False))
    future_with_option = pc.or_(pc.is_valid(table["option_type"]), pc.is_valid(table["strike_price"]))
    checks = [quality.missing_text(table, "instrument_type"), quality.missing_text(table, "symbol"),
              quality.missing(table, "expiry_date"),
              ("option without an option type or a positive strike", pc.and_(option, pc.invert(good_option))),
              ("future with an option type or strike", pc.and_(pc.invert(option), future_with_option))]
    checks += [quality.negative(table, name) for name in ("open", "high", "low", "close", "settle_price")]
    checks.append(quality.high_below_low(table))
    checks += [quality.negative(table, name) for name in ("volume", "turnover", "open_interest", "trades")]
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
    starts=date(2000, 6, 12),
    zipped=True,
    routes=(
        Route("fo-udiff", lambda d: f"/content/fo/{_udiff_name(d)}.zip", _udiff_name, starts=UDIFF_FROM),
        Route("fo-legacy", lambda d: f"/content/historical/DERIVATIVES/{d:%Y}/{mon(d)}/{_legacy_name(d)}.zip",
              _legacy_name, ends=UDIFF_FROM),
    ),
    formats=(UDIFF, LEGACY),
    schema=FO_BHAVCOPY,
    key=("instrument_type", "symbol", "expiry_date", "strike_price", "option_type", "exercise_style"),
    order_by=("trade_date", "symbol", "instrument_type", "expiry_date"),
    canonical=canonical,
    rules=rules,
    warnings=traded_outside_low_high,
    low_cardinality=("instrument_type", "option_type", "exercise_style", "source_format"),
    # jugaad-data's bhavcopy_fo_save: the CSV bare, month in title case (fo01Dec2022bhav.csv).
    local_names=lambda d: [f"fo{d:%d%b%Y}bhav.csv"],
)
