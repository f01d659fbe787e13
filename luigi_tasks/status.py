"""What exists for each date, read from the targets alone: the operator's first question.

The same paths Luigi checks (layout.py), so "done" here means "complete" to Luigi as well.
"""
import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Callable

from . import layout



@dataclass
class DayStatus:
    day: date
    dataset: str
    state: str  # closed, done, missing or corrupt
    missing_stage: str | None = None
    rows: int | None = None
    route: str | None = None
    problem: str | None = None  # for corrupt: which file, what is wrong, what to delete

    def line(self) -> str:
        text = f"{self.day.isoformat()}  {self.dataset:<8} {self.state:<8}"
        if self.state == "missing":
            text += f" from {self.missing_stage}"
        if self.rows is not None:
            text += f" {self.rows:>7,} rows"
        if self.route:
            text += f"  via {self.route}"
        if self.problem:
            text += f" {self.problem}"
        return text.rstrip()


def _record(output: layout.Output, root: Path, dataset: str, day: date) -> dict | None:
    try:
        record = json.loads(output.record(root, dataset, day).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def day_status(root: Path, dataset: str, day: date, is_session: Callable[[date], bool], load: bool) -> DayStatus:
    """From names, sizes and seals alone (no file is read whole): cheap enough for years of days."""
    if not is_session(day):
        return DayStatus(day, dataset, "closed")
    missing, records = None, {}
    for output in layout.stages(load):
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


def _route(root: Path, dataset: str, day: date) -> str | None:
    """The route of a raw file still being redone: its sidecar may lack a seal, not the route."""
    try:
        return json.loads(layout.raw_sidecar_path(root, dataset, day).read_text()).get("route")
    except (OSError, ValueError, AttributeError):
        return None


def day_statuses(root: Path, datasets: list[str], start: date, stop: date, is_session: Callable[[date], bool],
                 load: bool) -> list[DayStatus]:
    """Every date and dataset in [start, stop), in date order."""
    statuses, day = [], start
    while day < stop:
        statuses += [day_status(root, dataset, day, is_session, load) for dataset in datasets]
        day += timedelta(days=1)
    return statuses


def all_done(statuses: list[DayStatus]) -> bool:
    return all(status.state in ("done", "closed") for status in statuses)


def summary(statuses: list[DayStatus], start: date, stop: date) -> str:
    counts = {state: 0 for state in ("done", "missing", "corrupt", "closed")}
    for status in statuses:
        counts[status.state] += 1
    sessions = counts["done"] + counts["missing"] + counts["corrupt"]
    corrupt = f", {counts['corrupt']} corrupt" if counts["corrupt"] else ""
    return (f"summary: {sessions} session-days in [{start.isoformat()}, {stop.isoformat()}): "
            f"{counts['done']} done, {counts['missing']} missing{corrupt}; {counts['closed']} closed")


def report(root: Path, datasets: list[str], start: date, stop: date, is_session: Callable[[date], bool],
           load: bool) -> tuple[list[str], bool]:
    """One line per date and dataset in [start, stop), then a summary; True when every session is done."""
    statuses = day_statuses(root, datasets, start, stop, is_session, load)
    return [status.line() for status in statuses] + [summary(statuses, start, stop)], all_done(statuses)
