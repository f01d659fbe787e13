"""`python -m luigi_tasks verify`: prove every file of a range against its seal, and say what to delete.

`status` trusts names and sizes; this re-reads every byte. A file whose SHA-256 or size differs
from its seal is corrupt: the line names it and the file to delete, after which the next run
rebuilds that stage and the ones after it. A load marker vouches for one lake file (by its
SHA-256); if the lake file changed since, ClickHouse may hold other rows, so the marker goes.

`adopt` seals the files of days written before seals existed, once: a day is adopted only if none
of its files has a seal yet, so a redo in progress (whose later seals were removed on purpose)
is never sealed over.
"""
import json
import zipfile
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Callable

from . import lake, layout, rawfile, stages
from .targets import sha256_of, stage_target


@dataclass
class DayCheck:
    day: date
    dataset: str
    state: str  # ok, missing, corrupt
    missing_stage: str | None = None
    problems: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        head = f"{self.day.isoformat()}  {self.dataset:<8} {self.state:<8}"
        if self.state == "missing":
            return [f"{head} from {self.missing_stage}"]
        return [head.rstrip()] if not self.problems else [f"{head} {problem}" for problem in self.problems]


def verify_day(root: Path, dataset: str, day: date, load: bool) -> DayCheck:
    check = DayCheck(day, dataset, "ok")
    lake_sha = None
    for output in stages.outputs(load):
        path = output.path(root, dataset, day)
        shown = path.relative_to(root)
        if not path.exists():
            check.missing_stage = check.missing_stage or output.stage
            continue
        if output.sealed:
            problem = stage_target(output, root, dataset, day).problem(full=True)
            if problem and problem.startswith("no seal"):
                check.missing_stage = check.missing_stage or output.stage
            elif problem:
                check.problems.append(f"{shown}: {problem}; delete {shown} to rebuild it")
            elif output.path is layout.lake_path:
                lake_sha = json.loads(output.record(root, dataset, day).read_text())["sha256"]
            continue
        try:
            marker = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            check.problems.append(f"{shown}: unreadable ({exc.__class__.__name__}); delete {shown} to reload the day")
            continue
        if lake_sha and marker.get("lake_sha256") not in (None, lake_sha):
            check.problems.append(f"{shown}: loaded another lake file than the one now in the lake; "
                                  f"delete {shown} to reload the day")
    check.state = "corrupt" if check.problems else "missing" if check.missing_stage else "ok"
    return check


def report(root: Path, datasets: list[str], start: date, stop: date, is_session: Callable[[date], bool],
           load: bool) -> tuple[list[str], bool]:
    """Lines for every session-day in [start, stop) and a summary; True when nothing is corrupt."""
    lines, counts = [], {"ok": 0, "missing": 0, "corrupt": 0}
    day = start
    while day < stop:
        if is_session(day):
            for dataset in datasets:
                check = verify_day(root, dataset, day, load)
                counts[check.state] += 1
                lines += check.lines()
        day += timedelta(days=1)
    lines.append(f"verify: {sum(counts.values())} session-days in [{start.isoformat()}, {stop.isoformat()}): "
                 f"{counts['ok']} ok, {counts['corrupt']} corrupt, {counts['missing']} missing")
    return lines, counts["corrupt"] == 0


def _raw_rows(path: Path) -> int:
    body = path.read_bytes()
    if body[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(path) as archive:
            body = archive.read(archive.namelist()[0])
    return rawfile.data_lines(body)


def adopt_day(root: Path, dataset: str, day: date) -> list[Path]:
    """Seal the files of a day written before seals existed; returns the files sealed."""
    outputs = [output for output in stages.STAGES if output.sealed and output.path(root, dataset, day).exists()]
    records = [stage_target(output, root, dataset, day).seal for output in outputs]
    if not outputs or any(_has_seal(record.path) for record in records):
        return []
    for output, record in zip(outputs, records):
        path = output.path(root, dataset, day)
        rows = _raw_rows(path) if output.path is layout.raw_path else lake.file_rows(path)
        facts = json.loads(Path(record.path).read_text()) if Path(record.path).exists() else {}
        facts.update(file=path.name, bytes=path.stat().st_size, sha256=sha256_of(str(path)), rows=rows,
                     adopted=True)
        record.write_json(facts)
    return [output.path(root, dataset, day) for output in outputs]


def _has_seal(record_path: str) -> bool:
    try:
        return "sha256" in json.loads(Path(record_path).read_text())
    except (OSError, ValueError, TypeError):
        return False


def adopt_range(root: Path, datasets: list[str], start: date, stop: date, is_session: Callable[[date], bool],
                load: bool) -> tuple[list[str], bool]:
    """`adopt` for every day in [start, stop) that has files: one line per day sealed."""
    lines, day = [], start
    while day < stop:
        for dataset in datasets:
            sealed = adopt_day(root, dataset, day)
            if sealed:
                lines.append(f"{day.isoformat()}  {dataset:<8} sealed {len(sealed)} files")
        day += timedelta(days=1)
    lines.append(f"adopt: {len(lines)} days sealed in [{start.isoformat()}, {stop.isoformat()})")
    return lines, True
