"""The canonical tables each dataset's formats map onto; the lake and ClickHouse share them.

Units are normalised: prices and turnover in rupees (lakhs converted), quantities as documented
per column. Field nullability says which columns may be null in the lake and in ClickHouse.
"""
import pyarrow as pa


def _fields(*specs) -> pa.Schema:
    return pa.schema([pa.field(name, typ, nullable=nullable) for name, typ, nullable in specs])


CM_BHAVCOPY = _fields(
    ("trade_date", pa.date32(), False),
    ("symbol", pa.string(), False),
    ("series", pa.string(), False),
    ("isin", pa.string(), True),  # absent before about 2011
    ("open", pa.float64(), False),
    ("high", pa.float64(), False),
    ("low", pa.float64(), False),
    ("close", pa.float64(), False),
    ("last", pa.float64(), False),
    ("prev_close", pa.float64(), False),
    ("volume", pa.int64(), False),  # shares
    ("turnover", pa.float64(), False),  # rupees
    ("trades", pa.int64(), True),  # absent before about 2011
    ("source_format", pa.string(), False),  # legacy or udiff
)

FO_BHAVCOPY = _fields(
    ("trade_date", pa.date32(), False),
    ("instrument_type", pa.string(), False),  # STF, IDF (futures), STO, IDO (options); legacy names mapped
    ("symbol", pa.string(), False),
    ("expiry_date", pa.date32(), False),
    ("strike_price", pa.float64(), True),  # null for futures
    ("option_type", pa.string(), True),  # CE or PE; null for futures
    ("open", pa.float64(), False),
    ("high", pa.float64(), False),
    ("low", pa.float64(), False),
    ("close", pa.float64(), False),
    ("settle_price", pa.float64(), False),
    ("prev_close", pa.float64(), True),  # UDiFF only
    ("underlying_price", pa.float64(), True),  # UDiFF only
    ("volume", pa.int64(), False),  # contracts traded
    ("turnover", pa.float64(), False),  # rupees (legacy VAL_INLAKH x 100,000)
    ("open_interest", pa.int64(), False),  # shares (units of the underlying), not contracts
    ("change_in_oi", pa.int64(), False),  # shares
    ("trades", pa.int64(), True),  # UDiFF only
    ("lot_size", pa.int64(), True),  # shares per contract; UDiFF only
    ("source_format", pa.string(), False),  # legacy or udiff
)

CM_DELIVERY = _fields(
    ("trade_date", pa.date32(), False),
    ("symbol", pa.string(), False),
    ("series", pa.string(), False),
    ("prev_close", pa.float64(), False),
    ("open", pa.float64(), False),
    ("high", pa.float64(), False),
    ("low", pa.float64(), False),
    ("last", pa.float64(), False),
    ("close", pa.float64(), False),
    ("avg_price", pa.float64(), False),  # volume-weighted average price
    ("volume", pa.int64(), False),  # shares traded
    ("turnover", pa.float64(), False),  # rupees (TURNOVER_LACS x 100,000)
    ("trades", pa.int64(), False),
    ("delivery_qty", pa.int64(), True),  # shares marked for delivery; null where NSE prints '-'
    ("delivery_pct", pa.float64(), True),  # delivery_qty / volume x 100; null where NSE prints '-'
    ("source_format", pa.string(), False),  # full
)
