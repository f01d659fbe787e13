"""Corporate actions, deduplicated, and prices adjusted for them: in the lake and in ClickHouse alike.

The lake keeps each PR day's listing (datasets/actions.py); an action is one row per
(symbol, series, ex_date, purpose) once deduplicated, `first_seen` the first PR day that listed it
and every other field taken from its latest listing (the last line of the latest day).

Adjusted prices: a row's `adj_factor` is the product of the factors of its symbol's bonus, split
and consolidation actions with trade_date < ex_date <= the latest session loaded; prices multiply by
it, volume divides by it. An action listed under several series (EQ, BE, ...) counts once per
(symbol, ex_date, kind, factor), and applies to every series of the symbol. Rights are not adjusted
(see purpose.py). `adjusted` computes it from lake tables with pandas; `ensure_views` creates the
same in ClickHouse as the views `corporate_actions` and `cm_bhavcopy_adjusted`.
"""
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from . import layout, lake, warehouse
from .purpose import ADJUSTING
from .schema import CM_BHAVCOPY, CORPORATE_ACTIONS

ACTION_KEY = ["symbol", "series", "ex_date", "purpose"]
LATEST = ["security", "record_date", "bc_start_date", "bc_end_date", "nd_start_date", "nd_end_date",
          "kind", "ratio_new", "ratio_old", "factor", "amount"]
PRICES = ["open", "high", "low", "close", "prev_close"]


def read_lake(root: Path, dataset: str, filter=None) -> pa.Table:
    """Every day of a dataset's lake as one table of its schema (no partition columns)."""
    schema = layout.DATASETS[dataset].schema
    folder = layout.lake_root(root, dataset)
    if not folder.exists():
        return schema.empty_table()
    table = lake.open_lake(folder).to_table(columns=schema.names, filter=filter)
    return table.cast(schema)


def corporate_actions(listed: pa.Table) -> pd.DataFrame:
    """One row per action: the key, its latest listing's fields, first_seen, last_seen, days_listed."""
    frame = listed.to_pandas().sort_values(["trade_date", "line", "part"], kind="stable")
    groups = frame.groupby(ACTION_KEY, dropna=False)["trade_date"]
    frame["first_seen"] = groups.transform("min")
    frame["last_seen"] = groups.transform("max")
    frame["days_listed"] = groups.transform("nunique")
    latest = frame.drop_duplicates(ACTION_KEY, keep="last")
    return latest[ACTION_KEY + LATEST + ["first_seen", "last_seen", "days_listed"]].sort_values(
        ACTION_KEY, kind="stable").reset_index(drop=True)


def adjustment_events(listed: pa.Table, latest: date) -> pd.DataFrame:
    """(symbol, ex_date, factor) of every bonus, split and consolidation with ex_date <= latest."""
    frame = listed.select(["symbol", "ex_date", "kind", "factor"]).to_pandas()
    frame = frame[frame["kind"].isin(ADJUSTING) & frame["factor"].notna() & frame["ex_date"].notna()]
    frame = frame[frame["ex_date"] <= latest]
    return frame.drop_duplicates(["symbol", "ex_date", "kind", "factor"])[["symbol", "ex_date", "factor"]]


def adjusted(cm: pa.Table, listed: pa.Table, latest: date | None = None) -> pa.Table:
    """cm_bhavcopy rows with adj_factor, adj_open, adj_high, adj_low, adj_close, adj_prev_close, adj_volume.

    `latest` defaults to the last trade date in `cm`: pass the lake's latest session when `cm` is
    only a slice of it, so that the answer matches the whole lake's.
    """
    if latest is None:
        latest = pc.max(cm["trade_date"]).as_py() if cm.num_rows else date.min
    events = adjustment_events(listed, latest)
    rows = pd.DataFrame({"symbol": cm["symbol"].to_pylist(), "trade_date": cm["trade_date"].to_pylist()})
    pairs = rows.reset_index().merge(events, on="symbol")
    pairs = pairs[pairs["ex_date"] > pairs["trade_date"]]
    product = pairs.groupby("index")["factor"].prod().reindex(range(cm.num_rows), fill_value=1.0)
    factor = pa.array(product.to_numpy(), pa.float64())
    out = cm.append_column("adj_factor", factor)
    for name in PRICES:
        out = out.append_column(f"adj_{name}", pc.multiply(cm[name], factor))
    return out.append_column("adj_volume", pc.divide(cm["volume"].cast(pa.float64()), factor))


def adjusted_from_lake(root: Path, symbols: list[str] | None = None) -> pa.Table:
    """The lake's equity bhavcopy, adjusted; `symbols` narrows it (the latest session stays the lake's)."""
    latest = max(layout.lake_dates(root, "cm"), default=None)
    wanted = None if symbols is None else ds.field("symbol").isin(symbols)
    return adjusted(read_lake(root, "cm", wanted), read_lake(root, "actions", wanted), latest)


# ClickHouse: the same two answers as views over the loaded tables.

def actions_view_sql(database: str, listed: str) -> str:
    fields = ", ".join(f"`{name}`" for name in LATEST)
    picks = ", ".join(f"tupleElement(latest, {i + 1}) AS `{name}`" for i, name in enumerate(LATEST))
    return (
        f"SELECT `symbol`, `series`, `ex_date`, `purpose`, {picks}, first_seen, last_seen, days_listed\n"
        "FROM (\n"
        f"    SELECT `symbol`, `series`, `ex_date`, `purpose`, argMax(({fields}), (trade_date, line, part)) AS latest,\n"
        "        min(trade_date) AS first_seen, max(trade_date) AS last_seen, toInt64(uniqExact(trade_date)) AS days_listed\n"
        f"    FROM {warehouse._quoted(database, listed)}\n"
        "    GROUP BY `symbol`, `series`, `ex_date`, `purpose`\n"
        ")"
    )


def adjusted_view_sql(database: str, cm: str, listed: str) -> str:
    columns = ", ".join(f"b.`{field.name}` AS `{field.name}`" for field in CM_BHAVCOPY)
    kinds = ", ".join(f"'{kind}'" for kind in ADJUSTING)
    prices = ", ".join(f"b.`{name}` * adj_factor AS `adj_{name}`" for name in PRICES)
    return (
        f"SELECT {columns},\n"
        "    arrayProduct(arrayConcat([1.], arrayMap(e -> e.2, arrayFilter(e -> e.1 > b.trade_date, a.events))))"
        " AS adj_factor,\n"
        f"    {prices}, b.`volume` / adj_factor AS adj_volume\n"
        f"FROM {warehouse._quoted(database, cm)} AS b\n"
        "LEFT JOIN (\n"
        "    SELECT symbol, groupArray((ex_date, factor)) AS events FROM (\n"
        "        SELECT DISTINCT symbol, assumeNotNull(ex_date) AS ex_date, kind, assumeNotNull(factor) AS factor\n"
        f"        FROM {warehouse._quoted(database, listed)}\n"
        f"        WHERE kind IN ({kinds}) AND factor IS NOT NULL AND ex_date IS NOT NULL\n"
        f"          AND ex_date <= (SELECT max(trade_date) FROM {warehouse._quoted(database, cm)})\n"
        "    ) GROUP BY symbol\n"
        ") AS a ON b.symbol = a.symbol"
    )


def ensure_views(client, settings) -> list[str]:
    """(Re)create the views whose tables exist; returns their names. Cheap: two DDL statements."""
    database, cm, listed = settings.database, settings.table_for("cm"), settings.table_for("actions")
    made = []
    if warehouse.table_columns(client, database, listed):
        client.command(f"CREATE OR REPLACE VIEW {warehouse._quoted(database, settings.actions_view)} AS "
                       f"{actions_view_sql(database, listed)}")
        made.append(settings.actions_view)
        if warehouse.table_columns(client, database, cm):
            client.command(f"CREATE OR REPLACE VIEW {warehouse._quoted(database, settings.adjusted_view)} AS "
                           f"{adjusted_view_sql(database, cm, listed)}")
            made.append(settings.adjusted_view)
    return made


# The same for lake users without this package: DuckDB SQL over the Parquet lake (README, "Reading
# the data"); `{lake}` is DATA_DIR/lake. tests/test_adjust.py checks that it agrees with `adjusted`.
LAKE_QUERY = """
WITH cm AS (
    SELECT * EXCLUDE (year, month, day) FROM read_parquet('{lake}/cm_bhavcopy/**/*.parquet', hive_partitioning = true)
), events AS (
    SELECT DISTINCT symbol, ex_date, kind, factor
    FROM read_parquet('{lake}/corporate_actions/**/*.parquet', hive_partitioning = true)
    WHERE kind IN ('bonus', 'split', 'consolidation') AND factor IS NOT NULL AND ex_date IS NOT NULL
      AND ex_date <= (SELECT max(trade_date) FROM cm)
), factors AS (
    SELECT days.symbol, days.trade_date, product(events.factor) AS adj_factor
    FROM (SELECT DISTINCT symbol, trade_date FROM cm) AS days
    JOIN events ON events.symbol = days.symbol AND events.ex_date > days.trade_date
    GROUP BY days.symbol, days.trade_date
)
SELECT cm.*, coalesce(f.adj_factor, 1.0) AS adj_factor,
    cm.open * coalesce(f.adj_factor, 1.0) AS adj_open, cm.high * coalesce(f.adj_factor, 1.0) AS adj_high,
    cm.low * coalesce(f.adj_factor, 1.0) AS adj_low, cm.close * coalesce(f.adj_factor, 1.0) AS adj_close,
    cm.prev_close * coalesce(f.adj_factor, 1.0) AS adj_prev_close, cm.volume / coalesce(f.adj_factor, 1.0) AS adj_volume
FROM cm LEFT JOIN factors AS f ON f.symbol = cm.symbol AND f.trade_date = cm.trade_date
"""
