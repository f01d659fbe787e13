"""What makes a dataset: where NSE publishes it, how its file reads, what its rows must satisfy.

One `Dataset` per NSE file (datasets/cm.py, fo.py, delivery.py, ...), the only home of its
facts: folder names, ClickHouse table, routes and eras, metric prefix. The tasks only ask a
dataset to peek, parse, map and validate, so adding a dataset touches neither the tasks, the
layout, the settings nor the metrics.
"""
import posixpath
from dataclasses import dataclass, field
from datetime import date
from typing import Callable

import pyarrow as pa

from . import formats, quality
from .formats import CsvFormat
from .routes import Route, order_routes


@dataclass(frozen=True)
class Dataset:
    name: str  # cm, fo, delivery: the folder under raw/, staging/, ...
    table: str  # lake folder, and the ClickHouse table unless `clickhouse_table` names another
    starts: date  # NSE's first day of this file: a backfill asks nothing before it
    zipped: bool  # NSE serves a zip with one CSV member, or the CSV itself
    routes: tuple[Route, ...]
    formats: tuple[CsvFormat, ...]
    schema: pa.Schema
    key: tuple[str, ...]  # one row per key and day; also the duplicate rule's key
    order_by: tuple[str, ...]  # ClickHouse sorting key (non-nullable columns)
    canonical: Callable[[pa.Table, str], dict]  # staged table, format name -> canonical columns
    rules: quality.Rules
    warnings: Callable[[pa.Table], int] = field(default=lambda good: 0)
    low_cardinality: tuple[str, ...] = ("source_format",)
    # Names other tools save the day's file under, for `[nse] local_archive` (NSE's own come from the routes).
    local_names: Callable[[date], list[str]] = field(default=lambda day: [])
    # A zip of many members (NSE's PR archive): the names NSE has used for this dataset's member
    # on a day, matched without regard to case; None means the zip holds exactly one member.
    member: Callable[[date], tuple[str, ...]] | None = None
    # Datasets read from the same NSE file: a download copies theirs instead of fetching it again.
    shares_raw_with: tuple[str, ...] = ()
    # One staged row may give several canonical rows (a PURPOSE listing several corporate actions).
    expands: bool = False
    # Counts of the good rows for the run's metrics (e.g. actions per kind), beside the row counts.
    counts: Callable[[pa.Table], dict] = field(default=lambda good: {})
    # The ClickHouse table ("" means `table`); `[clickhouse] tables` in luigi.cfg overrides it.
    clickhouse_table: str = ""
    # Before each of its MLflow metric names (fo_rows_loaded); None means "<name>_".
    metric_prefix: str | None = None

    def __post_init__(self):
        if not self.clickhouse_table:
            object.__setattr__(self, "clickhouse_table", self.table)
        if self.metric_prefix is None:
            object.__setattr__(self, "metric_prefix", f"{self.name}_")

    @property
    def raw_suffix(self) -> str:
        return ".zip" if self.zipped else ".csv"

    def routes_for(self, day: date) -> list[Route]:
        """The routes to try for a day, in order (see routes.order_routes)."""
        return order_routes(self.routes, day)

    def archive_names(self, day: date) -> list[str]:
        """The names the day's file may have in a user's archive (local_archive.py): NSE's own first,
        each archive route's file and its CSV member, then `local_names`."""
        nse_names = [name for route in self.routes if not route.on_web
                     for name in (posixpath.basename(route.path(day)), route.member(day))]
        return list(dict.fromkeys([*nse_names, *self.local_names(day)]))

    def peek(self, csv_bytes: bytes, day: date, file: str) -> str:
        return formats.peek(csv_bytes, list(self.formats), day, file)

    def parse(self, csv_bytes: bytes, day: date, file: str, layout: str | None = None) -> pa.Table:
        """`layout`: the format the download found, from the raw file's sidecar; a file that is not
        in it is refused, as one the download did not check. Unknown or absent: any of them."""
        known = [fmt for fmt in self.formats if fmt.name == layout]
        return formats.parse(csv_bytes, known or list(self.formats), day, file)

    def to_canonical(self, staged: pa.Table) -> pa.Table:
        """Staged source columns -> this dataset's schema; values untouched except documented units."""
        fmt = formats.format_of(staged)
        columns = self.canonical(staged, fmt)
        rows = len(next(iter(columns.values()))) if columns else staged.num_rows
        if rows != staged.num_rows and not self.expands:
            raise ValueError(f"{self.name}: {staged.num_rows} staged rows gave {rows} canonical rows")
        columns["source_format"] = pa.array([fmt] * rows, pa.string())
        return formats.assemble(columns, self.schema, rows)

    def validate(self, canonical: pa.Table, day: date, file: str) -> quality.Checked:
        """Good rows and rejects; a file whose rows are all rejected raises (quality.require_rows)."""
        checked = quality.validate(canonical, self.schema, self.rules, list(self.key), self.warnings)
        return quality.require_rows(checked, day, file)

    def prove(self, csv_bytes: bytes, day: date, file: str) -> quality.Checked:
        """Every check a file meets on its way to the lake, in memory: what a redo runs before it
        replaces anything the lake was built from."""
        return self.validate(self.to_canonical(self.parse(csv_bytes, day, file)), day, file)
