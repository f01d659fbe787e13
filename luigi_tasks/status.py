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



@dataclass
class DayStatus:
    day: date
    dataset: str
    state: str  # closed, done or missing
    missing_stage: str | None = None
    rows: int | None = None
    route: str | None = None

    def line(self) -> str:
        text = f"{self.day.isoformat()}  {self.dataset:<8} {self.state:<8}"
        if self.state == "missing":
            text += f" from {self.missing_stage}"
        if self.rows is not None:
            text += f" {self.rows:>7,} rows"
        if self.route:
            text += f"  via {self.route}"
        return text.rstrip()


def _route(root: Path, dataset: str, day: date) -> str | None:
    try:
        return json.loads(layout.raw_sidecar_path(root, dataset, day).read_text()).get("route")
    except (OSError, ValueError):
        return None


def _rows(root: Path, dataset: str, day: date) -> int | None:
    lake_file = layout.lake_path(root, dataset, day)
    return pq.ParquetFile(lake_file).metadata.num_rows if lake_file.exists() else None


def day_status(root: Path, dataset: str, day: date, is_session: Callable[[date], bool], load: bool) -> DayStatus:
    if not is_session(day):
        return DayStatus(day, dataset, "closed")
    # The first missing output is where a rerun starts (tasks.DayTask.complete looks upstream too).
    missing = next((name for name, path in layout.stages(load) if not path(root, dataset, day).exists()), None)
    return DayStatus(day, dataset, "missing" if missing else "done", missing,
                     _rows(root, dataset, day), _route(root, dataset, day))


def report(root: Path, datasets: list[str], start: date, stop: date, is_session: Callable[[date], bool],
           load: bool) -> tuple[list[str], bool]:
    """One line per date and dataset in [start, stop), then a summary; True when every session is done."""
    lines, counts = [], {"done": 0, "missing": 0, "closed": 0}
    day = start
    while day < stop:
        for dataset in datasets:
            status = day_status(root, dataset, day, is_session, load)
            counts[status.state] += 1
            lines.append(status.line())
        day += timedelta(days=1)
    sessions = counts["done"] + counts["missing"]
    lines.append(
        f"summary: {sessions} session-days in [{start.isoformat()}, {stop.isoformat()}): "
        f"{counts['done']} done, {counts['missing']} missing; {counts['closed']} closed"
    )
    return lines, counts["missing"] == 0
