"""NSE's archive as a source: routes to a day's file, and fetching it politely.

Each dataset (datasets/*.py) lists its routes; the route whose era contains the date goes first,
the others are fallbacks for days NSE serves in the other layout (UDiFF files exist for 2024-07-05).
A 404, a 403 or an HTML page means "no file at this route"; anything else that is wrong is
an error. Retries of 429, 5xx and dropped connections are urllib3's `Retry`, not a loop here.
"""
import time
from dataclasses import dataclass
from datetime import date
from typing import Callable
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from .errors import BhavcopyError, NoFileError

UDIFF_FROM = date(2024, 7, 8)
NO_FILE_STATUSES = (403, 404)
CHUNK = 64 * 1024


@dataclass(frozen=True)
class Route:
    """One place NSE has published a dataset's daily file, and the file's name there."""

    name: str
    path: Callable[[date], str]
    member: Callable[[date], str]
    starts: date | None = None
    ends: date | None = None

    def covers(self, day: date) -> bool:
        return (self.starts is None or day >= self.starts) and (self.ends is None or day < self.ends)


def mon(day: date) -> str:
    """NSE's upper-case English month, as in cm01DEC2022bhav.csv."""
    return day.strftime("%b").upper()


def make_session(user_agent: str, referer: str, retries: int, backoff_factor: float) -> requests.Session:
    """One session per run: browser-like headers (NSE refuses others) and bounded retries."""
    session = requests.Session()
    session.headers.update({"User-Agent": user_agent, "Referer": referer, "Accept": "*/*"})
    retry = Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        backoff_factor=backoff_factor,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=frozenset({"GET"}),
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


@dataclass(frozen=True)
class Fetched:
    route: str
    url: str
    member: str
    body: bytes


def _read_body(response: requests.Response, day: date, url: str, max_bytes: int, deadline: float) -> bytes:
    """Stream the body with a size cap and an overall deadline, so a trickling server cannot hang us."""
    parts, size = [], 0
    try:
        for chunk in response.iter_content(CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise BhavcopyError(day, url, f"answer exceeds {max_bytes} bytes")
            if time.monotonic() > deadline:
                raise BhavcopyError(day, url, "download did not finish within the time allowed")
            parts.append(chunk)
    except requests.RequestException as exc:
        raise BhavcopyError(day, url, f"connection failed while reading the body: {exc.__class__.__name__}") from exc
    return b"".join(parts)


def _is_html(response: requests.Response, body: bytes) -> bool:
    content_type = response.headers.get("Content-Type", "").lower()
    start = body[:256].lstrip().lower()
    return "text/html" in content_type or start.startswith((b"<!doctype html", b"<html"))


def fetch(
    session: requests.Session,
    base_url: str,
    routes: list[Route],
    day: date,
    timeout: tuple[float, float],
    max_bytes: int,
    total_seconds: float = 300.0,
) -> Fetched:
    """Try each route for the day; return the first file served, or raise NoFileError."""
    attempts = []
    base = base_url.rstrip("/")
    host = urlsplit(base).netloc
    for route in routes:
        url = base + route.path(day)
        try:
            response = session.get(url, timeout=timeout, stream=True, allow_redirects=False)
        except requests.RequestException as exc:
            raise BhavcopyError(day, url, f"request failed after retries: {exc.__class__.__name__}: {exc}") from exc
        with response:
            if response.is_redirect:
                target = urlsplit(response.headers.get("Location", "")).netloc or host
                if target != host:
                    raise BhavcopyError(day, url, f"redirected to another host ({target}); only {host} is fetched")
                raise BhavcopyError(day, url, f"redirected (HTTP {response.status_code}) to {response.headers.get('Location')}")
            if response.status_code in NO_FILE_STATUSES:
                attempts.append((url, f"HTTP {response.status_code}"))
                continue
            if response.status_code != 200:
                raise BhavcopyError(day, url, f"HTTP {response.status_code} after retries")
            body = _read_body(response, day, url, max_bytes, time.monotonic() + total_seconds)
            if _is_html(response, body):
                attempts.append((url, "HTTP 200 with an HTML page"))
                continue
            return Fetched(route.name, url, route.member(day), body)
    raise NoFileError(day, attempts)
