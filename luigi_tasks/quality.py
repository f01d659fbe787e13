"""Row rules for the canonical CM table: every row is either kept or rejected with its reasons.

No row is dropped silently: `validate` returns the good rows and the rejects (with a `reason`
column), and their counts add up to the input. Rules:

- missing symbol or series;
- missing or non-positive open, high, low, close, last or prev_close;
- high < low;
- negative volume or turnover;
- duplicate (symbol, series): exact copies of a row keep the first and reject the rest as
  "duplicate row"; rows that share the key but differ are all rejected as "conflicting
  duplicate", since nothing says which one is right.

A close or open outside [low, high] is kept: NSE's trade-for-trade series publish a close that
is not a traded price. Such rows are only counted (`price_outside_range_rows`).
"""
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from .schema import CM_BHAVCOPY, CM_REJECTS

PRICE_COLUMNS = ("open", "high", "low", "close", "last", "prev_close")
KEY = ["symbol", "series"]


@dataclass
class Checked:
    good: pa.Table
    rejects: pa.Table
    price_outside_range_rows: int


def _missing_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.fill_null(pc.equal(pc.utf8_trim_whitespace(column), ""), True)


def _rule_masks(table: pa.Table) -> list[tuple[str, pa.ChunkedArray]]:
    rules = [(f"missing {name}", _missing_text(table[name])) for name in KEY]
    for name in PRICE_COLUMNS:
        rules.append((f"missing or non-positive {name}", pc.fill_null(pc.less_equal(table[name], 0), True)))
    rules.append(("high < low", pc.fill_null(pc.less(table["high"], table["low"]), False)))
    for name in ("volume", "turnover"):
        rules.append((f"missing or negative {name}", pc.fill_null(pc.less(table[name], 0), True)))
    return rules + _duplicate_masks(table)


def _duplicate_masks(table: pa.Table) -> list[tuple[str, pa.Array]]:
    counts = table.select(KEY).group_by(KEY, use_threads=False).aggregate([([], "count_all")])
    if pc.max(counts["count_all"]).as_py() in (None, 1):
        return []  # the usual day: no key repeats, so no need to compare whole rows
    frame = table.select(list(CM_BHAVCOPY.names)).to_pandas()
    shared_key = frame.duplicated(KEY, keep=False)
    distinct = frame[shared_key].drop_duplicates()
    conflicting_keys = distinct[distinct.duplicated(KEY, keep=False)][KEY].drop_duplicates()
    conflicting = frame[KEY].merge(conflicting_keys, on=KEY, how="left", indicator=True)["_merge"].eq("both").to_numpy()
    repeated = frame.duplicated(keep="first").to_numpy() & ~conflicting
    return [
        ("duplicate row", pa.array(repeated)),
        ("conflicting duplicate (symbol, series)", pa.array(conflicting)),
    ]


def validate(table: pa.Table) -> Checked:
    """Split a canonical table into good rows (typed as CM_BHAVCOPY) and rejects with reasons."""
    rules = [(reason, pa.chunked_array(mask).combine_chunks() if not isinstance(mask, pa.Array) else mask)
             for reason, mask in _rule_masks(table)]
    rejected = pa.array([False] * table.num_rows)
    for _, mask in rules:
        rejected = pc.or_(rejected, mask)
    # Rejects are few: name their reasons row by row rather than string-joining every row.
    indices = pc.indices_nonzero(rejected)
    reason = pa.array(
        ["; ".join(text for text, mask in rules if mask[i].as_py()) for i in indices.to_pylist()], pa.string()
    )
    good = table.filter(pc.invert(rejected)).cast(CM_BHAVCOPY)
    rejects = table.take(indices).append_column("reason", reason).cast(CM_REJECTS)
    outside = pc.or_(
        pc.or_(pc.less(good["close"], good["low"]), pc.greater(good["close"], good["high"])),
        pc.or_(pc.less(good["open"], good["low"]), pc.greater(good["open"], good["high"])),
    )
    return Checked(good, rejects, pc.sum(outside).as_py() or 0)
