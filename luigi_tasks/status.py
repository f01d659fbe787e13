"""What exists for each date, read from the targets alone: the operator's first question.

The same paths Luigi checks (layout.py), so "done" here means "complete" to Luigi as well. Only
names, sizes and the small seal records are read, never a data file whole, so a range of years
stays cheap; `verify` is the command that re-reads every byte.
"""
import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Callable

from . import layout, stages
from .availability import Need

STATES = ("done", "missing", "corrupt", "closed", "late", "unknown", "not-due")


@dataclass
class DayStatus:
    day: date
    dataset: str
    state: str  # one of STATES
    missing_stage: str | None = None
    rows: int | None = None
    route: str | None = None
    reason: str | None = None  # why a day is closed by a record, late or unknown
    problem: str | None = None  # for corrupt: which file, what is wrong, what to delete

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
        if self.problem:
            text += f" {self.problem}"
        return text.rstrip()


def _record(output: stages.Output, root: Path, dataset: str, day: date) -> dict | None:
    try:
        record = json.loads(output.record(root, dataset, day).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _route(root: Path, dataset: str, day: date) -> str | None:
    """The route of a raw file still being redone: its sidecar may lack a seal, not the route."""
    try:
        return json.loads(layout.raw_sidecar_path(root, dataset, day).read_text()).get("route")
    except (OSError, ValueError, AttributeError):
        return None


def _closed_reason(root: Path, dataset: str, day: date) -> str | None:
    try:
        record = json.loads(layout.closed_path(root, dataset, day).read_text())
    except (OSError, ValueError):
        return None
    return f"recorded {record.get('recorded_at')}: {record.get('reason')}"


def _targets(root: Path, dataset: str, day: date, load: bool) -> DayStatus:
    """done, corrupt (a file whose size is not its seal's) or missing from the first stage to redo."""
    missing, records = None, {}
    for output in stages.outputs(load):
        path = output.path(root, dataset, day)
        record = _record(output, root, dataset, day)
        if not path.exists() or record is None or (output.sealed and "sha256" not in record):
            missing = missing or output.stage  # the first one is where a rerun starts
            continue
        records[output.stage] = record
        if output.sealed and path.stat().st_size != record.get("bytes"):
            return DayStatus(day, dataset, "corrupt", problem=(
                f"{path.relative_to(root)} has {path.stat().st_size} bytes, its seal says {record.get('bytes')}: "
                f"delete it to rebuild"))
    rows = records.get("WriteParquet", {}).get("rows")
    route = records.get("DownloadBhavcopy", {}).get("route") or _route(root, dataset, day)
    return DayStatus(day, dataset, "missing" if missing else "done", missing, rows, route)


def day_status(root: Path, dataset: str, day: date, need: Callable[[str, date], Need], load: bool) -> DayStatus:
    """A day's state from its targets and what it needs now (availability.need); never asks NSE for a file."""
    needed = need(dataset, day)
    if needed is Need.CLOSED:
        return DayStatus(day, dataset, "closed")
    if needed is Need.BEFORE_FIRST_DAY:
        return DayStatus(day, dataset, "closed", reason=f"before NSE's first {dataset} file")
    status = _targets(root, dataset, day, load)
    if status.state != "missing" or status.missing_stage != stages.NAMES[0]:
        return status
    if needed is Need.NOT_DUE:
        return DayStatus(day, dataset, "not-due", reason="file not due yet")
    if needed is Need.CLOSED_IF_MISSING and (reason := _closed_reason(root, dataset, day)):
        return DayStatus(day, dataset, "closed", reason=reason)
    if needed is Need.LATE_IF_MISSING:
        return DayStatus(day, dataset, "late", reason="due, not yet published; within [calendar] grace_hours")
    if needed in (Need.UNKNOWN_IF_MISSING, Need.CLOSED_IF_MISSING):
        return DayStatus(day, dataset, "unknown", reason="the calendar only guesses a session; no file yet")
    return status


def day_statuses(root: Path, datasets: list[str], start: date, stop: date, need: Callable[[str, date], Need],
                 load: bool) -> list[DayStatus]:
    """Every date and dataset in [start, stop), in date order."""
    statuses, day = [], start
    while day < stop:
        statuses += [day_status(root, dataset, day, need, load) for dataset in datasets]
        day += timedelta(days=1)
    return statuses


def all_done(statuses: list[DayStatus]) -> bool:
    """Nothing missing or corrupt. Late, unknown and not-due days are not missing: NSE may still publish them."""
    return not any(status.state in ("missing", "corrupt") for status in statuses)


def summary(statuses: list[DayStatus], start: date, stop: date) -> str:
    counts = dict.fromkeys(STATES, 0)
    for status in statuses:
        counts[status.state] += 1
    sessions = counts["done"] + counts["missing"] + counts["corrupt"]
    corrupt = f", {counts['corrupt']} corrupt" if counts["corrupt"] else ""
    others = "".join(f", {counts[name]} {name}" for name in ("late", "unknown", "not-due") if counts[name])
    return (f"summary: {sessions} session-days in [{start.isoformat()}, {stop.isoformat()}): "
            f"{counts['done']} done, {counts['missing']} missing{corrupt}; {counts['closed']} closed{others}")


def report(root: Path, datasets: list[str], start: date, stop: date, need: Callable[[str, date], Need],
           load: bool) -> tuple[list[str], bool]:
    """One line per date and dataset in [start, stop), then a summary; True when nothing is missing."""
    statuses = day_statuses(root, datasets, start, stop, need, load)
    return [status.line() for status in statuses] + [summary(statuses, start, stop)], all_done(statuses)
