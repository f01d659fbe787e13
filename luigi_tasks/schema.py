"""The canonical tables each dataset's formats map onto; the lake and ClickHouse share them.

Units are normalised: prices and turnover in rupees (lakhs converted), quantities as documented
per column. Field nullability says which columns may be null in the lake and in ClickHouse.

Only the key (date, symbol, series; for F&O the contract) and `source_format` are never null.
Every value column is nullable: NSE leaves values empty on rows that are real (the last price of
traded debt rows, UDiFF `LastPric` and delivery `LAST_PRICE`; columns old layouts lack), and a
row is never refused because a value is empty. An empty value is null, never 0.
"""
import pyarrow as pa


def _fields(*specs) -> pa.Schema:
    return pa.schema([pa.field(name, typ, nullable=nullable) for name, typ, nullable in specs])


def _values(typ, *names) -> list[tuple]:
    return [(name, typ, True) for name in names]


CM_BHAVCOPY = _fields(
    ("trade_date", pa.date32(), False),
    ("symbol", pa.string(), False),
    ("series", pa.string(), False),
    ("isin", pa.string(), True),  # absent before about 2011
    *_values(pa.float64(), "open", "high", "low", "close", "last", "prev_close"),  # rupees; last empty on some debt rows
    ("volume", pa.int64(), True),  # shares
    ("turnover", pa.float64(), True),  # rupees
    ("trades", pa.int64(), True),  # absent before about 2011
    ("source_format", pa.string(), False),  # legacy or udiff
)

FO_BHAVCOPY = _fields(
    ("trade_date", pa.date32(), False),
    ("instrument_type", pa.string(), False),  # STF, IDF (futures), STO, IDO (options); legacy names mapped, others as written
    ("symbol", pa.string(), False),
    ("expiry_date", pa.date32(), False),
    ("strike_price", pa.float64(), True),  # null for futures
    ("option_type", pa.string(), True),  # CE (call) or PE (put); null for futures; legacy CA/PA read as CE/PE
    ("exercise_style", pa.string(), True),  # european (CE/PE) or american (legacy CA/PA); null for futures
    *_values(pa.float64(), "open", "high", "low", "close", "settle_price"),  # rupees; zero when untraded
    ("prev_close", pa.float64(), True),  # UDiFF only
    ("underlying_price", pa.float64(), True),  # UDiFF only
    ("volume", pa.int64(), True),  # contracts traded
    ("turnover", pa.float64(), True),  # rupees (legacy VAL_INLAKH x 100,000)
    ("open_interest", pa.int64(), True),  # shares (units of the underlying), not contracts
    ("change_in_oi", pa.int64(), True),  # shares
    ("trades", pa.int64(), True),  # UDiFF only
    ("lot_size", pa.int64(), True),  # shares per contract; UDiFF only
    ("source_format", pa.string(), False),  # legacy or udiff
)

CM_DELIVERY = _fields(
    ("trade_date", pa.date32(), False),
    ("symbol", pa.string(), False),
    ("series", pa.string(), False),
    *_values(pa.float64(), "prev_close", "open", "high", "low", "last", "close"),  # rupees; last blank on some debt rows
    ("avg_price", pa.float64(), True),  # volume-weighted average price
    ("volume", pa.int64(), True),  # shares traded
    ("turnover", pa.float64(), True),  # rupees (TURNOVER_LACS x 100,000)
    ("trades", pa.int64(), True),
    ("delivery_qty", pa.int64(), True),  # shares marked for delivery; null where NSE prints '-'
    ("delivery_pct", pa.float64(), True),  # delivery_qty / volume x 100; null where NSE prints '-'
    ("source_format", pa.string(), False),  # full
)

CORPORATE_ACTIONS = _fields(  # as each PR day's Bc member lists them: one row per action of each line
    ("trade_date", pa.date32(), False),  # the PR day that listed it
    ("line", pa.int64(), False),  # data line of the Bc member, from 1
    ("part", pa.int64(), False),  # which action of the line's PURPOSE, from 1
    ("symbol", pa.string(), False),
    ("series", pa.string(), False),  # '' where NSE leaves it blank (seen on debt rows)
    ("security", pa.string(), True),
    ("record_date", pa.date32(), True),
    ("bc_start_date", pa.date32(), True),  # book closure
    ("bc_end_date", pa.date32(), True),
    ("ex_date", pa.date32(), True),  # null for some redemptions
    ("nd_start_date", pa.date32(), True),  # no delivery
    ("nd_end_date", pa.date32(), True),
    ("purpose_text", pa.string(), False),  # the whole PURPOSE, spaces collapsed
    ("purpose", pa.string(), False),  # this action's part of it, upper case, spaces collapsed
    ("kind", pa.string(), False),  # purpose.KINDS
    ("ratio_new", pa.float64(), True),  # BONUS/RIGHTS a:b -> a; split/consolidation: face value after
    ("ratio_old", pa.float64(), True),  # BONUS/RIGHTS a:b -> b; split/consolidation: face value before
    ("factor", pa.float64(), True),  # bonus, split, consolidation: multiplies prices before the ex-date
    ("amount", pa.float64(), True),  # dividend: rupees per share, where printed
    ("source_format", pa.string(), False),  # bc
)

PRICES52 = _fields(
    ("trade_date", pa.date32(), False),
    ("market", pa.string(), True),  # MKT: N for a security, Y for an index row (rejected)
    ("symbol", pa.string(), False),
    ("series", pa.string(), False),
    ("security", pa.string(), True),
    ("prev_close", pa.float64(), True),
    ("open", pa.float64(), True),
    ("high", pa.float64(), True),
    ("low", pa.float64(), True),
    ("close", pa.float64(), False),
    ("turnover", pa.float64(), True),  # rupees (NET_TRDVAL)
    ("volume", pa.int64(), True),  # shares (NET_TRDQTY)
    ("trades", pa.int64(), True),
    ("hi_52_wk", pa.float64(), True),  # not adjusted for corporate actions (NSE's readme)
    ("lo_52_wk", pa.float64(), True),
    ("index_security", pa.string(), True),  # IND_SEC: Y for a Nifty 50 security
    ("corp_ind", pa.string(), True),  # CORP_IND as printed
    ("source_format", pa.string(), False),  # pd
)

INDEX_CLOSE = _fields(
    ("trade_date", pa.date32(), False),
    ("index_name", pa.string(), False),
    ("open", pa.float64(), True),  # null where NSE prints '-' (India VIX, new indices)
    ("high", pa.float64(), True),
    ("low", pa.float64(), True),
    ("close", pa.float64(), False),
    ("points_change", pa.float64(), True),
    ("change_pct", pa.float64(), True),
    ("volume", pa.int64(), True),  # shares
    ("turnover", pa.float64(), True),  # rupees (the file's crores x 10,000,000)
    ("pe", pa.float64(), True),
    ("pb", pa.float64(), True),
    ("div_yield", pa.float64(), True),
    ("source_format", pa.string(), False),  # ind_close_all
)
