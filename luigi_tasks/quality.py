"""Row rules: every row is either kept or rejected with its reasons, never dropped silently.

`validate` takes a canonical table, the dataset's rules (reason -> mask of bad rows) and its key,
and returns the good rows and the rejects (with a `reason` column); their counts add up to the
input. Duplicates of the key are handled the same way for every dataset: exact copies of a row
keep the first and reject the rest as "duplicate row"; rows that share the key but differ are all
rejected as "conflicting duplicate", since nothing says which one is right. The rules themselves
live with each dataset (datasets/cm.py, fo.py, delivery.py); the helpers below are their words.

A rule rejects only a row that cannot be true (high < low, a negative price or quantity, no
symbol or series or contract key). A value NSE left empty is null, not a reason to reject: the
schema says which columns may be null (schema.py). A day whose rows are all rejected is not a
day of bad rows but the wrong file, and fails as a whole (`require_rows`).
"""
from dataclasses import dataclass
from datetime import date
from typing import Callable

import pyarrow as pa
import pyarrow.compute as pc

from .errors import BhavcopyError

Rules = Callable[[pa.Table], list[tuple[str, pa.ChunkedArray]]]


@dataclass
class Checked:
    good: pa.Table
    rejects: pa.Table
    warning_rows: int  # kept rows that a documented rule keeps but counts (e.g. close outside [low, high])


def missing_text(table: pa.Table, name: str):
    return f"missing {name}", pc.fill_null(pc.equal(pc.utf8_trim_whitespace(table[name]), ""), True)


def missing(table: pa.Table, name: str):
    return f"missing {name}", pc.is_null(table[name])


def negative(table: pa.Table, name: str):
    """A negative price or quantity cannot be true; an empty one is null and passes."""
    return f"negative {name}", pc.fill_null(pc.less(table[name], 0), False)


def high_below_low(table: pa.Table):
    return "high < low", pc.fill_null(pc.less(table["high"], table["low"]), False)


def outside_low_high(table: pa.Table, *names: str) -> int:
    """Rows whose price lies outside [low, high]: kept, because NSE publishes such rows, but counted."""
    mask = pa.array([False] * table.num_rows, pa.bool_())
    for name in names:
        mask = pc.or_(mask, pc.or_(pc.less(table[name], table["low"]), pc.greater(table[name], table["high"])))
    return pc.sum(pc.fill_null(mask, False)).as_py() or 0


def _duplicate_masks(table: pa.Table, key: list[str]) -> list[tuple[str, pa.Array]]:
    counts = table.select(key).group_by(key, use_threads=False).aggregate([([], "count_all")])
    if pc.max(counts["count_all"]).as_py() in (None, 1):
        return []  # the usual day: no key repeats, so no need to compare whole rows
    frame = table.to_pandas()
    shared_key = frame.duplicated(key, keep=False)
    distinct = frame[shared_key].drop_duplicates()
    conflicting_keys = distinct[distinct.duplicated(key, keep=False)][key].drop_duplicates()
    conflicting = frame[key].merge(conflicting_keys, on=key, how="left", indicator=True)["_merge"].eq("both").to_numpy()
    repeated = frame.duplicated(keep="first").to_numpy() & ~conflicting
    return [
        ("duplicate row", pa.array(repeated)),
        (f"conflicting duplicate ({', '.join(key)})", pa.array(conflicting)),
    ]


def _array(mask) -> pa.Array:
    return mask.combine_chunks() if isinstance(mask, pa.ChunkedArray) else mask


def validate(table: pa.Table, schema: pa.Schema, rules: Rules, key: list[str],
             warnings: Callable[[pa.Table], int] = lambda good: 0) -> Checked:
    """Split a canonical table into good rows (typed as `schema`) and rejects with reasons."""
    checks = [(reason, _array(mask)) for reason, mask in rules(table) + _duplicate_masks(table, key)]
    rejected = pa.array([False] * table.num_rows, pa.bool_())
    for _, mask in checks:
        rejected = pc.or_(rejected, mask)
    # Rejects are few: name their reasons row by row rather than string-joining every row.
    indices = pc.indices_nonzero(rejected)
    reason = pa.array(
        ["; ".join(text for text, mask in checks if mask[i].as_py()) for i in indices.to_pylist()], pa.string()
    )
    good = table.filter(pc.invert(rejected)).cast(schema)
    rejects_schema = pa.schema([f.with_nullable(True) for f in schema] + [pa.field("reason", pa.string(), False)])
    rejects = table.take(indices).append_column("reason", reason).cast(rejects_schema)
    return Checked(good, rejects, warnings(good))


def require_rows(checked: Checked, day: date, file: str) -> Checked:
    """Refuse a file every row of which breaks a rule: it is not the day's file, so nothing is published."""
    if checked.good.num_rows == 0 and checked.rejects.num_rows:
        reasons = pc.unique(checked.rejects["reason"]).to_pylist()
        raise BhavcopyError(day, file, f"all {checked.rejects.num_rows} rows rejected ({'; '.join(reasons[:3])}): "
                                       "not a file of this dataset")
    return checked
