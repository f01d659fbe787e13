"""One process's way to NSE's files: one HTTP session and one main site (cookies, pacing) for
every date it fetches, the user's own archive first, and what a probe fetched kept for the download.
"""
import functools
from datetime import date

from . import local_archive, source
from .config import nse
from .datasets import DATASETS
from .errors import NoFileError


@functools.lru_cache(maxsize=4)
def _session(user_agent: str, referer: str, retries: int, backoff: float):
    return source.make_session(user_agent, referer, retries, backoff)


@functools.lru_cache(maxsize=4)
def web_site(web_url: str, min_interval: float):
    """One per process: its cookies and pacing are shared by every date fetched in the run."""
    return source.WebSite(web_url, min_interval)


def nse_session():
    settings = nse()
    return _session(settings.user_agent, settings.referer, settings.http_retries, settings.backoff_factor)


def timeouts() -> tuple[float, float]:
    settings = nse()
    return settings.connect_timeout, settings.read_timeout


def _fetch(dataset: str, day: date) -> source.Fetched:
    """The user's own archive first ([nse] local_archive), then NSE's routes unless [nse] offline."""
    settings = nse()
    found = local_archive.fetch(DATASETS[dataset], day, settings.archive_folders, settings.max_bytes, settings.offline)
    if found is not None:
        return found
    return source.fetch(nse_session(), settings.base_url, DATASETS[dataset].routes_for(day), day, timeouts(),
                        settings.max_bytes, site=web_site(settings.web_url, settings.api_min_interval))


# (dataset, day) -> what NSE answered when asked at scheduling time, kept for this process only.
_PROBES: dict[tuple[str, date], "source.Fetched | NoFileError"] = {}


def probe(dataset: str, day: date) -> "source.Fetched | NoFileError":
    """Ask NSE once per process whether the day's file exists; the body is kept for the download."""
    key = (dataset, day)
    if key not in _PROBES:
        try:
            _PROBES[key] = _fetch(dataset, day)
        except NoFileError as error:
            _PROBES[key] = error
    return _PROBES[key]


def fetch_day(dataset: str, day: date) -> source.Fetched:
    """The day's file: the body a probe already fetched, else a fetch (NoFileError if none)."""
    probed = _PROBES.pop((dataset, day), None)
    if isinstance(probed, source.Fetched):
        return probed
    return _fetch(dataset, day)
