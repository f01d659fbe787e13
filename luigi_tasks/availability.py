"""What a day's file needs at a given moment, and so what a missing file means.

Pure (no luigi, no I/O): tasks.py, bulk_complete and the status command ask here, so a day is
"late" or "unknown" to all of them alike. The answer depends on the dataset (its first day),
the calendar's answer for the day (`trading_calendar.DayInfo`: a session? known or guessed?),
the time now and the `[calendar]` timing settings:

- before the dataset's first file, or a closed day: nothing is needed;
- a session not yet due (before `publish_hour_ist` IST that day, or a future day): nothing yet;
- due, and within `grace_hours` of the publish hour: if NSE serves nothing the day is LATE,
  which is Luigi's "missing data" (its own exit code, no failure e-mail), never a failure;
- after that, a session the calendar KNOWS: a missing file is a failure (NoFileError);
- a session the calendar only GUESSES: a missing file is no alarm. Within `settle_days` of the
  publish hour it is UNKNOWN (asked again on the next run, nothing kept); after that NSE's
  silence is recorded as a closure, so the day costs no request again.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from .datasets import DATASETS
from .trading_calendar import IST, DayInfo



@dataclass(frozen=True)
class Timing:
    """When a day's file is due, and how long its absence is tolerated (`[calendar]`)."""

    publish_hour_ist: int = 19
    grace_hours: float = 15.0
    settle_days: float = 7.0

    def due_at(self, day: date) -> datetime:
        return datetime.combine(day, time(self.publish_hour_ist), IST)

    def late_until(self, day: date) -> datetime:
        return self.due_at(day) + timedelta(hours=self.grace_hours)

    def settled_at(self, day: date) -> datetime:
        return self.due_at(day) + timedelta(days=self.settle_days)


class Need(enum.Enum):
    """What a day's file needs now; `value` is what the status command shows."""

    BEFORE_FIRST_DAY = "before-first-day"  # the dataset did not exist yet
    CLOSED = "closed"  # the calendar says closed
    NOT_DUE = "not-due"  # a session whose file is not due yet
    FETCH = "fetch"  # a known session past its grace: a missing file fails
    LATE_IF_MISSING = "late"  # within the grace window: a missing file is late, not a failure
    UNKNOWN_IF_MISSING = "unknown"  # a guessed session, recent: a missing file is unknown
    CLOSED_IF_MISSING = "closed-if-missing"  # a guessed session, long due: a missing file is a closure

    @property
    def needs_nothing(self) -> bool:
        return self in (Need.BEFORE_FIRST_DAY, Need.CLOSED, Need.NOT_DUE)

    @property
    def probes(self) -> bool:
        """True when NSE is asked at scheduling time whether the file exists (see gates.NSEPublished)."""
        return self in (Need.LATE_IF_MISSING, Need.UNKNOWN_IF_MISSING, Need.CLOSED_IF_MISSING)


def need(dataset: str, day: date, info: DayInfo, now: datetime, timing: Timing) -> Need:
    """What `dataset`'s file for `day` needs at `now` (an aware datetime)."""
    if now.tzinfo is None:
        raise ValueError(f"now must be time-zone aware, got {now!r}")
    if day < DATASETS[dataset].starts:  # the dataset's first day (datasets/<name>.py)
        return Need.BEFORE_FIRST_DAY
    if not info.session:
        return Need.CLOSED
    if now < timing.due_at(day):
        return Need.NOT_DUE
    if not info.known:
        return Need.UNKNOWN_IF_MISSING if now < timing.settled_at(day) else Need.CLOSED_IF_MISSING
    if now < timing.late_until(day):
        return Need.LATE_IF_MISSING
    return Need.FETCH


def explain(need_now: Need, day: date, info: DayInfo, timing: Timing) -> str:
    """One line on what a missing file means for this day, for logs and error notes."""
    due = timing.due_at(day).strftime("%Y-%m-%d %H:%M IST")
    if need_now is Need.LATE_IF_MISSING:
        return (f"{day} is late: due {due}, tolerated until "
                f"{timing.late_until(day):%Y-%m-%d %H:%M} IST ([calendar] grace_hours)")
    if need_now is Need.UNKNOWN_IF_MISSING:
        return (f"{day} is unknown: the calendar only guesses it is a session ({info.source}); "
                f"asked again on the next run until {timing.settled_at(day):%Y-%m-%d %H:%M} IST")
    if need_now is Need.CLOSED_IF_MISSING:
        return f"{day} is recorded as closed: a guessed session ({info.source}) with no file long after it was due"
    if need_now is Need.FETCH:
        return f"{day} is a session by {info.source}, due {due} and past its grace: the file should exist"
    return f"{day} needs no file ({need_now.value})"


def closed_record(dataset: str, day: date, info: DayInfo, attempts: list[tuple[str, str]], now: datetime) -> dict:
    """The body of a recorded closure (layout.closed_path): why, which routes, when."""
    return {
        "date": day.isoformat(),
        "dataset": dataset,
        "reason": f"no file at any route long after it was due, on a day the calendar only guesses "
                  f"is a session ({info.source})",
        "routes_tried": [{"url": url, "answer": answer} for url, answer in attempts],
        "recorded_at": now.isoformat(timespec="seconds"),
    }
