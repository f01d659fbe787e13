"""NSE's calendar as a run sees it: its clock (or NSE_ETL_NOW), luigi.cfg's `[calendar]`
corrections, NSE's holiday list (fetched once per process), and what each day's file needs now.
"""
import functools
import os
from datetime import date, datetime, timezone

from . import availability, layout, nse_access, nse_holidays, trading_calendar
from .config import calendar, nse, storage

NOW_ENV = "NSE_ETL_NOW"  # tests only: an ISO datetime the run takes as "now"


def now() -> datetime:
    """The time a run decides by: the clock, or NSE_ETL_NOW (an aware ISO datetime) in tests."""
    injected = os.environ.get(NOW_ENV)
    if not injected:
        return datetime.now(timezone.utc)
    moment = datetime.fromisoformat(injected)
    if moment.tzinfo is None:
        raise ValueError(f"{NOW_ENV}={injected!r} needs a UTC offset, e.g. 2026-12-02T18:00+05:30")
    return moment


@functools.lru_cache(maxsize=4)
def _holiday_list(root, web_url: str, min_interval: float):
    """NSE's holiday list, once per process (nse_holidays.load: cached a day under DATA_DIR)."""
    site = nse_access.web_site(web_url, min_interval)
    return nse_holidays.load(
        layout.holiday_list_path(root),
        lambda: nse_holidays.fetch(nse_access.nse_session(), site, nse_access.timeouts()),
        now(),
    )


def _calendar_kwargs(day: date, settings=None) -> dict:
    """The `[calendar]` corrections, and NSE's holiday list when it may know the day.

    `settings`: `[calendar]` when the caller has it; reading a section costs about 0.1 ms, and
    need() is asked several times for every day of a backfill.
    """
    settings = settings or calendar()
    kwargs = {"extra_sessions": settings.extra_sessions, "extra_closures": settings.extra_closures}
    today = now().astimezone(trading_calendar.IST).date()
    if settings.holiday_list and nse_holidays.may_cover(day, today, trading_calendar.calendar_bounds()[1]):
        site = nse()
        kwargs["holidays"] = _holiday_list(storage().root, site.web_url, site.api_min_interval)
    return kwargs


def day_info(day: date, settings=None) -> trading_calendar.DayInfo:
    """NSE's calendar for `day` with luigi.cfg's `[calendar]`: session or not, known or guessed."""
    return trading_calendar.day_info(day, **_calendar_kwargs(day, settings))


def is_session(day: date) -> bool:
    """NSE's calendar with the `[calendar]` overrides from luigi.cfg."""
    return day_info(day).session


def timing(settings=None) -> availability.Timing:
    settings = settings or calendar()
    return availability.Timing(settings.publish_hour_ist, settings.grace_hours, settings.settle_days)


def need(dataset: str, day: date) -> availability.Need:
    """What `dataset`'s file for `day` needs now (availability.need with luigi.cfg's settings)."""
    settings = calendar()
    return availability.need(dataset, day, day_info(day, settings), now(), timing(settings))


def why(needed: availability.Need, day: date) -> str:
    """What a missing file means for the day, in one clause (availability.explain)."""
    settings = calendar()
    return availability.explain(needed, day, day_info(day, settings), timing(settings))


def default_trade_date() -> date:
    """The latest session whose file is due now (NSE publishes around 19:00 IST)."""
    moment = now()
    return trading_calendar.previous_business_day(
        moment, publish_hour_ist=calendar().publish_hour_ist,
        **_calendar_kwargs(moment.astimezone(trading_calendar.IST).date()),
    )
