"""Corporate actions: the `Bc` member of NSE's PR zip (`PRDDMMYY.zip`, see pr_archive.py).

Header `SERIES,SYMBOL,SECURITY,RECORD_DT,BC_STRT_DT,BC_END_DT,EX_DT,ND_STRT_DT,ND_END_DT,PURPOSE`.
Dates are `DD/MM/YYYY` with a single space for none (older files) or ISO with an empty field (by
late 2025). The file carries no trade date: the member's name is the day's (rawfile.read_named_member).

The lake keeps what each day's file says: one row per action of each line (`line`, `part`), so an
action listed on many days, or twice in one file, is many rows there; nothing is a duplicate. The
deduplicated table is derived (adjust.corporate_actions, and the ClickHouse view `corporate_actions`):
one row per (symbol, series, ex_date, purpose), `first_seen` the first PR day that listed it.
PURPOSE parts are read by purpose.py; a part not understood is kept with kind `other` and counted
(`actions_unparsed_rows`).

Rules: a row is rejected only for a missing symbol or a missing PURPOSE.
"""
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from .. import formats, pr_archive, quality
from ..dataset import Dataset
from ..formats import CsvFormat
from ..purpose import KINDS, normalise, parse_part, parse_purpose
from ..schema import CORPORATE_ACTIONS

DATES = {"RECORD_DT": "record_date", "BC_STRT_DT": "bc_start_date", "BC_END_DT": "bc_end_date",
         "EX_DT": "ex_date", "ND_STRT_DT": "nd_start_date", "ND_END_DT": "nd_end_date"}

BC = CsvFormat(
    name="bc",
    types={"SERIES": pa.string(), "SYMBOL": pa.string(), "SECURITY": pa.string(),
           **{column: pa.date32() for column in DATES}, "PURPOSE": pa.string()},
    signature=("SYMBOL", "EX_DT", "PURPOSE"),
    date_column=None,
    text_dates=tuple(DATES),
    date_formats=("%d/%m/%Y", "%Y-%m-%d"),
    dashes=True,  # values are padded and "-" means none
)

ACTION_FIELDS = ("purpose", "kind", "ratio_new", "ratio_old", "factor", "amount")


def canonical(staged: pa.Table, fmt: str) -> dict:
    """One row per action of each line; a blank PURPOSE keeps its line as one row (rejected)."""
    parsed = [parse_purpose(text) or [None] for text in staged["PURPOSE"].to_pylist()]
    lines = [index for index, actions in enumerate(parsed) for _ in actions]
    actions = [action for found in parsed for action in found]
    rows = staged.take(pa.array(lines, pa.int64()))
    columns = {
        "trade_date": pa.array([formats.day_of(staged)] * len(lines), pa.date32()),
        "line": pa.array([index + 1 for index in lines], pa.int64()),
        "part": pa.array([part + 1 for found in parsed for part in range(len(found))], pa.int64()),
        "symbol": rows["SYMBOL"],
        "series": pc.fill_null(rows["SERIES"], ""),
        "security": rows["SECURITY"],
        **{name: rows[column] for column, name in DATES.items()},
        "purpose_text": pa.array([normalise(text) if text else None for text in rows["PURPOSE"].to_pylist()],
                                 pa.string()),
    }
    for name in ACTION_FIELDS:
        columns[name] = pa.array([getattr(action, name) if action else None for action in actions],
                                 CORPORATE_ACTIONS.field(name).type)
    return columns


def rules(table: pa.Table) -> list:
    return [quality.missing_text(table, "symbol"), quality.missing_text(table, "purpose")]


def counts(good: pa.Table) -> dict:
    """Actions per kind, and those whose text was not understood (kept as `other`)."""
    kinds = good["kind"].to_pylist()
    found = {f"kind_{kind}_rows": kinds.count(kind) for kind in KINDS}
    found["unparsed_rows"] = sum(not parse_part(text).understood for text in good["purpose"].to_pylist())
    return found


DATASET = Dataset(
    name="actions",
    # The earliest PR archive day seen in use (not NSE's documented first day, which is not known):
    # a backfill asks nothing before it, so a default run from 1994 raises no false alarm.
    starts=date(2010, 1, 1),
    table="corporate_actions",
    # One row per listing; the view `corporate_actions` ([clickhouse] actions_view) is one row per action.
    clickhouse_table="corporate_actions_listed",
    zipped=True,
    routes=(pr_archive.route("Bc"),),
    formats=(BC,),
    schema=CORPORATE_ACTIONS,
    key=("line", "part"),
    order_by=("trade_date", "symbol", "series"),
    canonical=canonical,
    rules=rules,
    low_cardinality=("series", "kind", "source_format"),
    member=pr_archive.member_names("Bc"),
    shares_raw_with=pr_archive.siblings("actions"),
    expands=True,
    counts=counts,
)
