"""Which days NSE publishes an end-of-day bhavcopy: XBOM's calendar, corrected for NSE.

Pure (no luigi), so tasks, scripts and tests share one answer to "is there a file for this day?".

Sources, weakest first; a later one wins:
1. exchange_calendars' XBOM (Bombay) calendar: NSE and BSE share holidays and unscheduled closures.
2. Closures from the packaged `nse_calendar_overrides.csv`.
3. Sessions from that file, then the caller's `extra_sessions`: special Saturday/Sunday sessions
   and Muhurat trading, which XBOM lacks (its own 2024-01-20/2025-02-01 weekmasks are ignored
   under pandas 3).
4. The caller's `extra_closures` (e.g. `[calendar] extra_closures` in luigi.cfg): a sudden closure
   must be expressible without a release.

Bounds, decided here:
- Before `CALENDAR_START` (2005-01-01) a ValueError: the lake starts there, and a wrong answer
  for history is permanent while nothing is in a hurry.
- After the last year whose holidays exchange_calendars records (2026 in 4.13), the weekday rule
  plus overrides, with one warning per process. Raising would stop the nightly job every
  1 January until the library is upgraded; a weekday guess at worst asks NSE for a holiday's file,
  which the fetcher must handle anyway (unscheduled closures), and `extra_closures` fixes it.
"""
from __future__ import annotations

import csv
import functools
import io
import logging
import warnings
from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone
from importlib import resources
from zoneinfo import ZoneInfo

log = logging.getLogger(__name__)

IST = ZoneInfo("Asia/Kolkata")
CALENDAR_START = date(2005, 1, 1)
OVERRIDES_FILE = "nse_calendar_overrides.csv"
PUBLISH_HOUR_IST = 19  # NSE posts the day's bhavcopy around 19:00 IST
_YEARS_AHEAD = 2


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
        cal = XBOMExchangeCalendar(start=CALENDAR_START.isoformat(), end=end.isoformat())
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


@functools.lru_cache(maxsize=1)
def _warn_weekday_rule(last_known: date) -> None:
    """Say once per process that holidays past `last_known` are unknown."""
    log.warning(
        "exchange_calendars records XBOM holidays only to %s; later days use the weekday rule "
        "plus overrides. Upgrade exchange_calendars or add [calendar] extra_closures.",
        last_known,
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


def _check_day(day: date) -> None:
    if isinstance(day, datetime) or not isinstance(day, date):
        raise TypeError(f"expected a datetime.date, got {day!r} (convert a datetime to IST first)")
    if day < CALENDAR_START:
        raise ValueError(
            f"{day} is before the trading calendar's start {CALENDAR_START} "
            f"(it covers {CALENDAR_START} to {calendar_bounds()[1]} from XBOM, weekday rule after)"
        )


def _open(day: date, extra_sessions: frozenset[date], extra_closures: frozenset[date]) -> bool:
    if day in extra_closures:
        return False
    packaged_sessions, packaged_closures = _packaged()
    if day in packaged_sessions or day in extra_sessions:
        return True
    if day in packaged_closures:
        return False
    xbom, last_known = _xbom()
    if day > last_known:
        _warn_weekday_rule(last_known)
        return day.weekday() < 5
    return day in xbom


def calendar_bounds() -> tuple[date, date]:
    """(first day answered, last day XBOM knows holidays for); later days use the weekday rule."""
    return CALENDAR_START, _xbom()[1]


def is_session(day: date, extra_sessions: Iterable[date | str] = (),
               extra_closures: Iterable[date | str] = ()) -> bool:
    """True if NSE trades on `day`, so a bhavcopy should exist.

    Extras are dates or ISO strings; see the module docstring for which source wins.
    """
    _check_day(day)
    return _open(day, _as_dates(extra_sessions, "extra_sessions"), _as_dates(extra_closures, "extra_closures"))


def sessions(start: date, stop: date, extra_sessions: Iterable[date | str] = (),
             extra_closures: Iterable[date | str] = ()) -> list[date]:
    """NSE sessions in [start, stop), stop exclusive like luigi's RangeDaily, in order."""
    _check_day(start)
    if isinstance(stop, datetime) or not isinstance(stop, date):
        raise TypeError(f"expected a datetime.date for stop, got {stop!r}")
    extra_s = _as_dates(extra_sessions, "extra_sessions")
    extra_c = _as_dates(extra_closures, "extra_closures")
    return [
        start + timedelta(days=i)
        for i in range((stop - start).days)
        if _open(start + timedelta(days=i), extra_s, extra_c)
    ]


def previous_business_day(now: datetime, extra_sessions: Iterable[date | str] = (),
                          extra_closures: Iterable[date | str] = (),
                          publish_hour_ist: int = PUBLISH_HOUR_IST) -> date:
    """The session the evening job should fetch at `now`: the latest one whose file is due.

    NSE publishes around 19:00 IST, so today (in IST) counts if it is a session and the IST hour
    is `publish_hour_ist` or later; otherwise the last session strictly before today. A naive
    `now` is taken as UTC (a server clock), never as local time.
    """
    if not isinstance(now, datetime):
        raise TypeError(f"now must be a datetime, got {now!r}")
    if not 0 <= publish_hour_ist <= 23:
        raise ValueError(f"publish_hour_ist must be 0..23, got {publish_hour_ist}")
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    local = now.astimezone(IST)
    today = local.date()
    _check_day(today)
    extra_s = _as_dates(extra_sessions, "extra_sessions")
    extra_c = _as_dates(extra_closures, "extra_closures")
    if local.hour >= publish_hour_ist and _open(today, extra_s, extra_c):
        return today
    day = today - timedelta(days=1)
    while not _open(day, extra_s, extra_c):
        day -= timedelta(days=1)
        if day < CALENDAR_START:
            raise ValueError(f"no NSE session between {CALENDAR_START} and {today}")
    return day
