"""Which days NSE publishes an end-of-day bhavcopy, and how sure we are of each answer.

Pure (no luigi), so tasks, scripts and tests share one answer to "is there a file for this day?".

Sources, weakest first; a later one wins:
1. exchange_calendars' XBOM (Bombay) calendar, for the years it records holidays (1997 to its
   release's last year, 2026 in 4.13): NSE and BSE share holidays and unscheduled closures.
2. NSE's own holiday list (`nse_holidays.py`), for the years it lists: a weekday is a session
   unless listed, a weekend is closed.
3. Closures from the packaged `nse_calendar_overrides.csv`.
4. Sessions from that file, then the caller's `extra_sessions`: special Saturday/Sunday sessions
   and Muhurat trading, which XBOM lacks (its own 2024-01-20/2025-02-01 weekmasks are ignored
   under pandas 3).
5. The caller's `extra_closures` (e.g. `[calendar] extra_closures` in luigi.cfg): a sudden closure
   must be expressible without a release.

Where no source knows the day (1994-11-03 to 1996, and after XBOM's last year in a year NSE's
list does not cover) the answer is a GUESS by the weekday rule, and `day_info` says so
(`known=False`), with one warning per process. The fetcher treats a guessed session's missing
file as "unknown", not as an alarm (`availability.py`). Before NSE's first file (1994-11-03)
every day is closed: nothing exists to fetch.
"""
from __future__ import annotations

import csv
import functools
import io
import logging
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from importlib import resources
from zoneinfo import ZoneInfo

log = logging.getLogger(__name__)

IST = ZoneInfo("Asia/Kolkata")
FILES_START = date(1994, 11, 3)  # NSE's first bhavcopy; nothing exists before it
XBOM_START = date(1997, 1, 1)  # XBOM's bound_min: the first year it records holidays
OVERRIDES_FILE = "nse_calendar_overrides.csv"
PUBLISH_HOUR_IST = 19  # NSE posts the day's bhavcopy around 19:00 IST
_YEARS_AHEAD = 2


@dataclass(frozen=True)
class DayInfo:
    """The calendar's answer for one day: is it a session, does a source know it, which one."""

    session: bool
    known: bool  # False: no source covers the day, `session` is the weekday rule's guess
    source: str  # extra_closures, extra_sessions, overrides, nse-holiday-list, xbom, weekday-rule, before-nse


# Year -> the days NSE lists as trading holidays that year; a year present is covered in full.
HolidayList = Mapping[int, frozenset[date]]


@functools.lru_cache(maxsize=1)
def _xbom() -> tuple[frozenset[date], date]:
    """XBOM's sessions as a set of dates, and the last date it knows holidays for.

    Built once per process: importing exchange_calendars (and pandas) costs about half a second,
    after which a set lookup is all a question costs.
    """
    # Deferred: importing this module stays cheap for code that never asks.
    from exchange_calendars.exchange_calendar_xbom import XBOMExchangeCalendar

    today = date.today()
    wanted_end = date(today.year + _YEARS_AHEAD, 12, 31)
    bound_max = XBOMExchangeCalendar.bound_max()  # end of the last year with recorded holidays
    end = min(wanted_end, bound_max.date()) if bound_max is not None else wanted_end
    with warnings.catch_warnings():  # exchange_calendars 4.13 trips a pandas 3.1 deprecation
        warnings.filterwarnings("ignore", message="Series.values returning an ndarray")
        cal = XBOMExchangeCalendar(start=XBOM_START.isoformat(), end=end.isoformat())
    return frozenset(cal.sessions.date), end


@functools.lru_cache(maxsize=1)
def _packaged() -> tuple[frozenset[date], frozenset[date]]:
    """(sessions, closures) from the packaged CSV; `#` lines are comments.

    A date listed as both, or an unknown kind, is a data error and raises rather than guessing.
    """
    text = resources.files(__package__).joinpath(OVERRIDES_FILE).read_text(encoding="utf-8")
    rows = csv.DictReader(io.StringIO("".join(
        line for line in text.splitlines(keepends=True) if not line.lstrip().startswith("#")
    )))
    found: dict[str, set[date]] = {"session": set(), "closure": set()}
    for row in rows:
        day, kind = date.fromisoformat(row["date"].strip()), row["kind"].strip()
        if kind not in found:
            raise ValueError(f"{OVERRIDES_FILE}: {day} has kind {kind!r}; expected session or closure")
        found[kind].add(day)
    both = found["session"] & found["closure"]
    if both:
        raise ValueError(f"{OVERRIDES_FILE}: listed as both session and closure: {sorted(both)}")
    return frozenset(found["session"]), frozenset(found["closure"])


@functools.lru_cache(maxsize=None)
def _warn_guessing(span: str) -> None:
    """Say once per process, per span, that its days are guessed."""
    log.warning(
        "no holiday source covers %s: those days are guessed by the weekday rule (a guessed "
        "session whose file is missing is reported as unknown, not as a failure). Upgrade "
        "exchange_calendars, enable [calendar] holiday_list, or add [calendar] extra_closures.",
        span,
    )


def _as_dates(values: Iterable[date | str], name: str) -> frozenset[date]:
    """Dates or ISO strings (as luigi.cfg gives them) to a set of dates."""
    if isinstance(values, str):
        raise TypeError(f"{name} must be a list of dates, not the string {values!r}")
    out = set()
    for v in values:
        if isinstance(v, datetime):
            raise TypeError(f"{name}: {v!r} is a datetime; pass a date so no time zone is implied")
        out.add(v if isinstance(v, date) else date.fromisoformat(str(v).strip()))
    return frozenset(out)


def _check_day(day: date, name: str = "day") -> None:
    if isinstance(day, datetime) or not isinstance(day, date):
        raise TypeError(f"expected a datetime.date for {name}, got {day!r} (convert a datetime to IST first)")


def _info(day: date, extra_sessions: frozenset[date], extra_closures: frozenset[date],
          holidays: HolidayList | None) -> DayInfo:
    if day < FILES_START:
        return DayInfo(False, True, "before-nse")
    if day in extra_closures:
        return DayInfo(False, True, "extra_closures")
    packaged_sessions, packaged_closures = _packaged()
    if day in extra_sessions:
        return DayInfo(True, True, "extra_sessions")
    if day in packaged_sessions:
        return DayInfo(True, True, "overrides")
    if day in packaged_closures:
        return DayInfo(False, True, "overrides")
    if holidays and day.year in holidays:
        return DayInfo(day.weekday() < 5 and day not in holidays[day.year], True, "nse-holiday-list")
    xbom, last_known = _xbom()
    if XBOM_START <= day <= last_known:
        return DayInfo(day in xbom, True, "xbom")
    _warn_guessing(f"days before {XBOM_START}" if day < XBOM_START else f"days after {last_known}")
    return DayInfo(day.weekday() < 5, False, "weekday-rule")


def calendar_bounds() -> tuple[date, date]:
    """(first, last) day XBOM knows holidays for; outside them NSE's list or the weekday rule."""
    return XBOM_START, _xbom()[1]


def day_info(day: date, extra_sessions: Iterable[date | str] = (), extra_closures: Iterable[date | str] = (),
             holidays: HolidayList | None = None) -> DayInfo:
    """Whether NSE trades on `day`, and whether a source knows it or the weekday rule guesses.

    Extras are dates or ISO strings; `holidays` is NSE's own list (nse_holidays.parse). See the
    module docstring for which source wins.
    """
    _check_day(day)
    return _info(day, _as_dates(extra_sessions, "extra_sessions"), _as_dates(extra_closures, "extra_closures"),
                 holidays)


def is_session(day: date, extra_sessions: Iterable[date | str] = (),
               extra_closures: Iterable[date | str] = (), holidays: HolidayList | None = None) -> bool:
    """True if NSE trades on `day` (known or guessed), so a bhavcopy should exist."""
    return day_info(day, extra_sessions, extra_closures, holidays).session


def sessions(start: date, stop: date, extra_sessions: Iterable[date | str] = (),
             extra_closures: Iterable[date | str] = (), holidays: HolidayList | None = None) -> list[date]:
    """NSE sessions in [start, stop), stop exclusive like luigi's RangeDaily, in order."""
    _check_day(start, "start")
    _check_day(stop, "stop")
    extra_s = _as_dates(extra_sessions, "extra_sessions")
    extra_c = _as_dates(extra_closures, "extra_closures")
    days = (start + timedelta(days=i) for i in range((stop - start).days))
    return [day for day in days if _info(day, extra_s, extra_c, holidays).session]


def previous_business_day(now: datetime, extra_sessions: Iterable[date | str] = (),
                          extra_closures: Iterable[date | str] = (),
                          publish_hour_ist: int = PUBLISH_HOUR_IST, holidays: HolidayList | None = None) -> date:
    """The session the evening job should fetch at `now`: the latest one whose file is due.

    NSE publishes around 19:00 IST, so today (in IST) counts if it is a session and the IST hour
    is `publish_hour_ist` or later; otherwise the last session strictly before today. A naive
    `now` is taken as UTC (a server clock), never as local time.
    """
    if not isinstance(now, datetime):
        raise TypeError(f"now must be a datetime, got {now!r}")
    if not 0 <= publish_hour_ist <= 23:
        raise ValueError(f"publish_hour_ist must be 0..23, got {publish_hour_ist}")
    local = (now.replace(tzinfo=timezone.utc) if now.tzinfo is None else now).astimezone(IST)
    today = local.date()
    extra_s = _as_dates(extra_sessions, "extra_sessions")
    extra_c = _as_dates(extra_closures, "extra_closures")
    if local.hour >= publish_hour_ist and _info(today, extra_s, extra_c, holidays).session:
        return today
    day = today - timedelta(days=1)
    while not _info(day, extra_s, extra_c, holidays).session:
        if day < FILES_START:
            raise ValueError(f"no NSE session between {FILES_START} and {today}")
        day -= timedelta(days=1)
    return day
