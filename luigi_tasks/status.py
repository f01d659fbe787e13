"""What exists for each date, read from the targets alone: the operator's first question.

The same paths Luigi checks (layout.py), so "done" here means "complete" to Luigi as well.
"""
import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Callable

import pyarrow.parquet as pq

from . import layout
from .availability import Need


@dataclass
class DayStatus:
    day: date
    dataset: str
    state: str  # closed, done, missing, late, unknown or not-due
    missing_stage: str | None = None
    rows: int | None = None
    route: str | None = None
    reason: str | None = None  # why a day is closed by a record, late or unknown

    def line(self) -> str:
        text = f"{self.day.isoformat()}  {self.dataset:<8} {self.state:<8}"
        if self.state == "missing":
            text += f" from {self.missing_stage}"
        if self.rows is not None:
            text += f" {self.rows:>7,} rows"
        if self.route:
            text += f"  via {self.route}"
        if self.reason:
            text += f"  ({self.reason})"
        return text.rstrip()


def _route(root: Path, dataset: str, day: date) -> str | None:
    try:
        return json.loads(layout.raw_sidecar_path(root, dataset, day).read_text()).get("route")
    except (OSError, ValueError):
        return None


def _rows(root: Path, dataset: str, day: date) -> int | None:
    lake_file = layout.lake_path(root, dataset, day)
    return pq.ParquetFile(lake_file).metadata.num_rows if lake_file.exists() else None


def _closed_reason(root: Path, dataset: str, day: date) -> str | None:
    try:
        record = json.loads(layout.closed_path(root, dataset, day).read_text())
    except (OSError, ValueError):
        return None
    return f"recorded {record.get('recorded_at')}: {record.get('reason')}"


def day_status(root: Path, dataset: str, day: date, need: Callable[[str, date], Need], load: bool) -> DayStatus:
    """A day's state from its targets and what it needs now (availability.need); never asks NSE for a file."""
    needed = need(dataset, day)
    if needed is Need.CLOSED:
        return DayStatus(day, dataset, "closed")
    if needed is Need.BEFORE_FIRST_DAY:
        return DayStatus(day, dataset, "closed", reason=f"before NSE's first {dataset} file")
    # The first missing output is where a rerun starts (tasks.DayTask.complete looks upstream too).
    missing = next((name for name, path in layout.stages(load) if not path(root, dataset, day).exists()), None)
    if missing is None:
        return DayStatus(day, dataset, "done", None, _rows(root, dataset, day), _route(root, dataset, day))
    raw_missing = missing == layout.STAGES[0][0]
    if needed is Need.NOT_DUE:
        return DayStatus(day, dataset, "not-due", reason="file not due yet")
    if raw_missing and needed is Need.CLOSED_IF_MISSING and (reason := _closed_reason(root, dataset, day)):
        return DayStatus(day, dataset, "closed", reason=reason)
    if raw_missing and needed is Need.LATE_IF_MISSING:
        return DayStatus(day, dataset, "late", reason="due, not yet published; within [calendar] grace_hours")
    if raw_missing and needed in (Need.UNKNOWN_IF_MISSING, Need.CLOSED_IF_MISSING):
        return DayStatus(day, dataset, "unknown", reason="the calendar only guesses a session; no file yet")
    return DayStatus(day, dataset, "missing", missing, _rows(root, dataset, day), _route(root, dataset, day))


def report(root: Path, datasets: list[str], start: date, stop: date, need: Callable[[str, date], Need],
           load: bool) -> tuple[list[str], bool]:
    """One line per date and dataset in [start, stop), then a summary; True when nothing is missing.

    Late, unknown and not-due days are not missing: NSE may still publish them.
    """
    lines, counts = [], {"done": 0, "missing": 0, "closed": 0, "late": 0, "unknown": 0, "not-due": 0}
    day = start
    while day < stop:
        for dataset in datasets:
            status = day_status(root, dataset, day, need, load)
            counts[status.state] += 1
            lines.append(status.line())
        day += timedelta(days=1)
    sessions = counts["done"] + counts["missing"]
    others = "".join(f", {counts[name]} {name}" for name in ("late", "unknown", "not-due") if counts[name])
    lines.append(
        f"summary: {sessions} session-days in [{start.isoformat()}, {stop.isoformat()}): "
        f"{counts['done']} done, {counts['missing']} missing; {counts['closed']} closed{others}"
    )
    return lines, counts["missing"] == 0
