"""Row rules: every row is either kept or rejected with its reasons, never dropped silently.

`validate` takes a canonical table, the dataset's rules (reason -> mask of bad rows) and its key,
and returns the good rows and the rejects (with a `reason` column); their counts add up to the
input. Duplicates of the key are handled the same way for every dataset: exact copies of a row
keep the first and reject the rest as "duplicate row"; rows that share the key but differ are all
rejected as "conflicting duplicate", since nothing says which one is right. The rules themselves
live with each dataset (datasets/cm.py, fo.py, delivery.py); the helpers below are their words.
"""
from dataclasses import dataclass
from typing import Callable

import pyarrow as pa
import pyarrow.compute as pc

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


def not_positive(table: pa.Table, name: str):
    return f"missing or non-positive {name}", pc.fill_null(pc.less_equal(table[name], 0), True)


def negative(table: pa.Table, name: str, required: bool = True):
    label = f"missing or negative {name}" if required else f"negative {name}"
    return label, pc.fill_null(pc.less(table[name], 0), required)


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
