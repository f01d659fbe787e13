"""NSE's own trading-holiday list: the main site's `/api/holiday-master?type=trading`.

The answer is JSON keyed by segment ('CM', 'FO', ...), each a list of entries such as
`{"tradingDate": "26-Jan-2026", "weekDay": "Monday", "description": "Republic Day"}`. It lists
the current year (and the next once NSE announces it), so it knows the years XBOM's release does
not. The calendar uses the CM segment: the bhavcopies follow the cash market's sessions.

It sits behind the same cookies as the reports API (source.WebSite). The body is cached under
DATA_DIR and fetched again at most once a day; if NSE cannot be asked, the cache (however old)
answers, else nothing does and the calendar falls back to XBOM, with one warning either way.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

import requests

from .errors import BhavcopyError
from .source import WebSite
from .targets import AtomicLocalTarget
from .trading_calendar import HolidayList

log = logging.getLogger(__name__)

API_PATH = "/api/holiday-master"
SEGMENT = "CM"
MAX_AGE = timedelta(days=1)


class HolidayListError(Exception):
    """NSE's holiday list could not be fetched or read."""


def parse(body: bytes, segment: str = SEGMENT) -> HolidayList:
    """Year -> holidays from the API's JSON; every year with an entry counts as covered."""
    try:
        entries = json.loads(body)[segment]
        days = [datetime.strptime(entry["tradingDate"].strip(), "%d-%b-%Y").date() for entry in entries]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise HolidayListError(f"holiday list: no readable {segment!r} list of tradingDate entries ({exc})") from exc
    if not days:
        raise HolidayListError(f"holiday list: the {segment!r} list is empty")
    years: dict[int, set[date]] = {}
    for day in days:
        years.setdefault(day.year, set()).add(day)
    return {year: frozenset(found) for year, found in years.items()}


def may_cover(day: date, today: date, xbom_last_known: date) -> bool:
    """True if NSE's list can know `day`: it lists the current year and later ones.

    A day XBOM does not know is asked about too (a cache may hold a year now past). Past
    years XBOM knows never cost the request, so a backfill of history never fetches the list.
    """
    return day.year >= today.year or day > xbom_last_known


def fetch(session: requests.Session, site: WebSite, timeout) -> bytes:
    """GET the list with the reports API's cookie priming and pace; the body once it parses."""
    url = site.url + API_PATH
    params = {"type": "trading"}
    try:
        site.prime(session, timeout, date.today())  # the day only names the error; the list is for no day
        site.pace()
        response = session.get(url, params=params, headers=site.headers(), timeout=timeout, allow_redirects=False)
        if response.status_code in (401, 403) and site.prime(session, timeout, date.today(), force=True):
            site.pace()
            response = session.get(url, params=params, headers=site.headers(), timeout=timeout,
                                   allow_redirects=False)
    except (requests.RequestException, BhavcopyError) as exc:
        raise HolidayListError(f"{url}: request failed: {exc.__class__.__name__}: {exc}") from exc
    if response.status_code != 200:
        raise HolidayListError(f"{url}: HTTP {response.status_code}")
    parse(response.content)
    return response.content


def _read_cache(path: Path) -> tuple[datetime, bytes] | None:
    try:
        cached = json.loads(path.read_text())
        return datetime.fromisoformat(cached["fetched_at"]), cached["body"].encode()
    except (OSError, ValueError, KeyError, TypeError):
        return None


def load(path: Path, get: Callable[[], bytes], now: datetime) -> HolidayList | None:
    """The holiday list: the cache if fetched within a day of `now`, else NSE's (cached), else the old cache.

    None when neither NSE nor a cache answers: the calendar then uses XBOM alone.
    """
    cached = _read_cache(path)
    if cached is not None and timedelta(0) <= now - cached[0] < MAX_AGE:
        try:
            return parse(cached[1])
        except HolidayListError:
            cached = None
    try:
        body = get()
    except HolidayListError as exc:
        if cached is not None:
            log.warning("NSE's holiday list could not be fetched (%s); using the copy from %s in %s",
                        exc, cached[0].isoformat(timespec="seconds"), path)
            try:
                return parse(cached[1])
            except HolidayListError:
                pass
        log.warning("NSE's holiday list could not be fetched (%s) and no cached copy exists; the calendar "
                    "uses exchange_calendars' XBOM alone", exc)
        return None
    AtomicLocalTarget(str(path)).write_json({"fetched_at": now.isoformat(timespec="seconds"),
                                             "url": API_PATH + "?type=trading", "body": body.decode()})
    return parse(body)
