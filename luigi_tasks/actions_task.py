"""The cross-check of corporate actions against prices (actions_check.py), wired to the lake.

`CheckActions` runs for a day once that day's equity bhavcopy and corporate actions are in the lake
(BhavcopyETL asks for it whenever both datasets are in its set); it compares the day with the
previous session's lake file, writes its findings to `checks/actions/<date>.json` and puts their
counts in the run's metrics (`actions_check_contradicted`, ...). It needs the previous session's
equity bhavcopy and PR file in the lake too (an action is listed up to its ex-date, so the session
before it lists it), and asks for them: a run for one day fetches the day before if the lake lacks it (only the first day of a history has no previous session, and is recorded skipped).
`check_days` does the same over any range for `python -m luigi_tasks actions --check`.
"""
import functools
from datetime import date, timedelta
from pathlib import Path
from typing import Callable

import pyarrow.dataset as ds

from . import actions_check, adjust, lake, layout
from .config import actions
from .datasets import DATASETS
from .run_calendar import is_session
from .tasks import DayTask, WriteParquet

LISTING_DAYS = 15  # calendar days of PR files read for one ex-date: an action is listed every day until it


def check_path(root: Path, dataset: str, day: date) -> Path:
    return root / "checks" / dataset / f"{day.isoformat()}.json"


def checked_dates(root: Path) -> set[date]:
    return layout.dates_in(check_path(root, "actions", date(2000, 1, 1)).parent, ".json")


def previous_session(day: date, session: Callable[[date], bool]) -> date | None:
    for back in range(1, 31):
        if session(day - timedelta(days=back)):
            return day - timedelta(days=back)
    return None


def _cm_day(root: Path, day: date | None):
    if day is None or day not in layout.lake_dates(root, "cm"):
        return None
    return lake.read_table(layout.lake_path(root, "cm", day))


def _listed_until(root: Path, day: date):
    """The actions listed on the PR days just before and on `day`, from the lake."""
    first = day - timedelta(days=LISTING_DAYS)
    return adjust.read_lake(root, "actions", (ds.field("trade_date") >= first) & (ds.field("trade_date") <= day))


def check_days(root: Path, days: list[date], session: Callable[[date], bool]) -> list[actions_check.Finding]:
    """Every finding for these days (each needs its cm lake file; the previous session's if there)."""
    settings, findings = actions(), []
    cm_days = layout.lake_dates(root, "cm")
    for day in sorted(set(days) & cm_days):
        before = _cm_day(root, previous_session(day, session))
        findings += actions_check.check_day(day, before, _cm_day(root, day), _listed_until(root, day),
                                            settings.tolerance, settings.unexplained_gap)
    return findings


class CheckActions(DayTask):
    """The day's splits, bonuses and consolidations against its prices; findings kept, counts in metrics."""

    attempts_setting = "write"  # local work on the lake, retried like writing it
    # Below the stages' (DayTask.priority): Luigi runs higher priorities first, so every stage of a
    # run lands before any check, and each day's check finds the session before it in the lake
    # whenever the run holds that day too. (A dependent's priority flows down to its dependencies,
    # so the check cannot sit below its wrapper's 0; the stages sit above it instead.)
    priority = 0

    def requires(self):
        """The day's own files only: the session before is compared when the lake has it.

        Requiring it would make a backfill fetch the day before its range, and fail its last day
        when that file is missing; `actions --check` over the lake always compares every pair.
        """
        return [WriteParquet(date=self.date, dataset=name) for name in ("cm", "actions")]

    def output(self):
        return self.target(check_path)

    @property
    def before(self) -> date | None:
        """The session before, if the lake holds its cm and actions files (none before NSE's first PR file)."""
        before = previous_session(self.date, is_session)
        if before is None or before < DATASETS["actions"].starts:
            return None
        in_lake = all(before in layout.lake_dates(self.root, name) for name in ("cm", "actions"))
        return before if in_lake else None

    def run(self):
        if self.before is None:
            self.metrics["check_skipped"] = 1
            self.output().write_json({"date": self.date.isoformat(),
                                      "skipped": "the previous session is not in the lake (or precedes the PR archive)"})
            return
        findings = check_days(self.root, [self.date], is_session)
        counts = actions_check.summary(findings)
        self.metrics.update(counts, check_skipped=0)
        flagged = [f.as_dict() for f in findings if f.flag in (actions_check.CONTRADICTS, actions_check.UNEXPLAINED)]
        self.output().write_json({"date": self.date.isoformat(), "previous_session": self.before.isoformat(),
                                  **counts, "flagged": flagged})
