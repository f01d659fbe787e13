"""NSE as a source over HTTP: fetching a day's file politely, route by route (routes.py).

A 404, a 403, an HTML page or a JSON "no data" answer means "no file at this route"; anything else
that is wrong is an error, and a day no route serves is never taken for a holiday (the calendar
alone says that). Retries of 429, 5xx and dropped connections are
urllib3's `Retry`, not a loop here.
"""
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from .errors import BhavcopyError, NetworkError, NoFileError
from .rawfile import is_zip, looks_like_csv
from .routes import Route, order_routes

NO_FILE_STATUSES = (403, 404)
CHUNK = 64 * 1024
MAX_RETRY_AFTER = 60.0  # seconds; a server asking for longer gets this, and the run moves on


class BoundedRetry(Retry):
    """urllib3's Retry, honouring Retry-After only up to MAX_RETRY_AFTER: a run must never hang."""

    def get_retry_after(self, response):
        seconds = super().get_retry_after(response)
        return None if seconds is None else min(seconds, MAX_RETRY_AFTER)


def make_session(user_agent: str, referer: str, retries: int, backoff_factor: float) -> requests.Session:
    """One session per run: browser-like headers (NSE refuses others) and bounded retries."""
    session = requests.Session()
    session.headers.update({"User-Agent": user_agent, "Referer": referer, "Accept": "*/*"})
    retry = BoundedRetry(
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
    from_api: bool = False


def _read_body(response: requests.Response, day: date, url: str, max_bytes: int, deadline: float) -> bytes:
    """Read the body with a size cap and an overall deadline, so a trickling server cannot hang us.

    `read1` returns whatever has arrived (waiting at most the read timeout for a first byte),
    so the deadline is checked at least once per read timeout, however slowly bytes come.
    """
    parts, size = [], 0
    try:
        while chunk := response.raw.read1(CHUNK, decode_content=True):
            size += len(chunk)
            if size > max_bytes:
                raise BhavcopyError(day, url, f"answer exceeds {max_bytes} bytes")
            if time.monotonic() > deadline:
                raise BhavcopyError(day, url, "download did not finish within the time allowed")
            parts.append(chunk)
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise BhavcopyError(day, url, f"connection failed while reading the body: {exc.__class__.__name__}") from exc
    return b"".join(parts)


def _is_html(response: requests.Response, body: bytes) -> bool:
    """An HTML page in place of a file, decided by the bytes: a zip served as text/html is a zip."""
    if is_zip(body):
        return False
    start = body[:2048].lstrip().lower()
    if start.startswith((b"<!doctype html", b"<html")):
        return True
    return start.startswith(b"<") and (b"<html" in start or "text/html" in response.headers.get("Content-Type", "").lower())


class WebSite:
    """The main site's cookies and pace: its reports API answers only a client that first loaded `/`.

    Cookies are primed once per session and again after a 401 or 403, but never more than once per
    `prime_interval` seconds; API requests are spaced by `min_interval` seconds.
    """

    def __init__(self, web_url: str, min_interval: float = 1.0, prime_interval: float = 60.0):
        self.url = web_url.rstrip("/")
        self.min_interval = min_interval
        self.prime_interval = prime_interval
        self.primed_at: float | None = None
        self.last_request = 0.0
        self.lock = threading.Lock()

    def headers(self) -> dict:
        return {"Accept": "application/json, text/plain, */*", "Accept-Language": "en-US,en;q=0.9",
                "Referer": self.url + "/"}

    def prime(self, session: requests.Session, timeout, day: date, force: bool = False) -> bool:
        """GET the home page for its cookies; False when the last priming is too recent to repeat."""
        with self.lock:
            now = time.monotonic()
            if self.primed_at is not None and (not force or now - self.primed_at < self.prime_interval):
                return False
            self.primed_at = now
        response = _get(session, self.url + "/", day, timeout,
                        headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8", "Accept-Language": "en-US,en;q=0.9"})
        response.close()
        return True

    def pace(self) -> None:
        with self.lock:
            wait = self.last_request + self.min_interval - time.monotonic()
            self.last_request = time.monotonic() + max(wait, 0)
        if wait > 0:
            time.sleep(wait)


# What went wrong on the way to a host, most telling first: urllib3's NewConnectionError is a
# ConnectTimeoutError too, so refusals and name lookups are looked for before timeouts.
_NETWORK_CAUSES = [
    ((urllib3.exceptions.NameResolutionError, socket.gaierror), "name resolution failed"),
    ((ConnectionRefusedError,), "connection refused"),
    ((ssl.SSLError, urllib3.exceptions.SSLError, requests.exceptions.SSLError), "TLS error"),
    ((urllib3.exceptions.ReadTimeoutError, requests.exceptions.ReadTimeout), "read timed out"),
    ((urllib3.exceptions.ConnectTimeoutError, requests.exceptions.ConnectTimeout, TimeoutError), "connect timed out"),
    ((ConnectionResetError, ConnectionAbortedError, urllib3.exceptions.ProtocolError), "connection reset"),
]


def network_cause(exc: BaseException) -> str:
    """A few words for why a request failed, from requests' exception and everything it wraps."""
    chain, todo = [], [exc]
    while todo:
        error = todo.pop()
        if isinstance(error, BaseException) and all(error is not seen for seen in chain):
            chain.append(error)
            todo += [error.__cause__, error.__context__, getattr(error, "reason", None), *error.args]
    for types, cause in _NETWORK_CAUSES:
        if any(isinstance(error, types) for error in chain):
            return cause
    return exc.__class__.__name__


def _get(session, url, day, timeout, **kwargs) -> requests.Response:
    try:
        return session.get(url, timeout=timeout, stream=True, allow_redirects=False, **kwargs)
    except requests.RequestException as exc:
        raise NetworkError(day, url, urlsplit(url).netloc, network_cause(exc)) from exc


def _is_json(response: requests.Response, body: bytes) -> bool:
    content_type = response.headers.get("Content-Type", "").lower()
    return "json" in content_type or body[:1] in (b"{", b"[")


def _api_get(session, site: WebSite, url: str, route: Route, day: date, timeout) -> requests.Response:
    site.prime(session, timeout, day)
    site.pace()
    response = _get(session, url, day, timeout, params=route.query(day), headers=site.headers())
    if response.status_code in (401, 403) and site.prime(session, timeout, day, force=True):
        response.close()
        site.pace()
        response = _get(session, url, day, timeout, params=route.query(day), headers=site.headers())
    return response


class Attempt(NamedTuple):
    url: str
    status: str  # what the route answered, e.g. "HTTP 404"
    failed: bool = False  # a 5xx after retries or a redirect: an error, not "no file here"


def _try_route(session, base_url: str, route: Route, day: date, timeout, max_bytes: int, total_seconds: float,
               site: WebSite | None) -> Fetched | Attempt:
    """The route's file, or why it gave none; a failed connection or a broken body raises."""
    base = site.url if route.on_web else base_url.rstrip("/")
    host = urlsplit(base).netloc
    url = base + route.path(day)
    response = _api_get(session, site, url, route, day, timeout) if route.on_web else _get(session, url, day, timeout)
    shown = response.url if route.on_web else url
    with response:
        if response.is_redirect:
            target = urlsplit(response.headers.get("Location", "")).netloc or host
            if target != host:
                return Attempt(shown, f"redirected to another host ({target}); only {host} is fetched", True)
            return Attempt(shown, f"redirected (HTTP {response.status_code}) to {response.headers.get('Location')}", True)
        if response.status_code in NO_FILE_STATUSES or (route.on_web and response.status_code == 401):
            status = f"HTTP {response.status_code}"
            if route.on_web:
                status += f", refused by the reports API even with cookies from {site.url}/"
            return Attempt(shown, status)
        if response.status_code != 200:
            return Attempt(shown, f"HTTP {response.status_code} after retries", True)
        body = _read_body(response, day, shown, max_bytes, time.monotonic() + total_seconds)
        if _is_html(response, body):
            return Attempt(shown, "HTTP 200 with an HTML page")
        if route.on_web and _is_json(response, body):
            return Attempt(shown, f"HTTP 200 with a JSON answer: {body[:120].decode(errors='replace')}")
        if route.on_web and not (is_zip(body) or looks_like_csv(body)):
            raise BhavcopyError(day, shown, f"route {route.name} answered 200 with neither a zip nor a CSV "
                                            f"({response.headers.get('Content-Type', 'no content type')})")
        return Fetched(route.name, shown, route.member(day), body, route.on_web)


def fetch(
    session: requests.Session,
    base_url: str,
    routes: list[Route],
    day: date,
    timeout: tuple[float, float],
    max_bytes: int,
    total_seconds: float = 300.0,
    site: WebSite | None = None,
) -> Fetched:
    """Try each route for the day; return the first file served.

    A route answering a 5xx (after urllib3's retries) or a redirect does not stop the others: around
    the 2024-07-08 switch one layout's route can fail while the other serves. A host that cannot be
    reached is not asked again for its other routes (it would fail as it just did, after as many
    retries). When no route serves, the error names every route tried: a NetworkError if a host did
    not answer (no proof that NSE published nothing), a BhavcopyError led by the first failure if a
    route failed, else a NoFileError.
    """
    attempts, unreachable, failure = [], {}, None
    for route in order_routes(routes, day):
        if route.on_web and site is None:
            continue
        host = urlsplit(site.url if route.on_web else base_url).netloc
        if host in unreachable:
            attempts.append(Attempt(base_url.rstrip("/") + route.path(day) if not route.on_web else site.url + route.path(day),
                                    f"not tried: {unreachable[host]}"))
            continue
        try:
            result = _try_route(session, base_url, route, day, timeout, max_bytes, total_seconds, site)
        except NetworkError as exc:
            failure = failure or exc
            unreachable[host] = f"cannot reach {exc.host}: {exc.cause}"
            url = (site.url if route.on_web else base_url.rstrip("/")) + route.path(day)
            attempts.append(Attempt(url, unreachable[host] + ("" if exc.file == url else f", at {exc.file} for cookies")))
            continue
        if isinstance(result, Fetched):
            return result
        attempts.append(result)
    if failure:
        raise NetworkError(day, failure.file, failure.host, failure.cause,
                           [(a.url, a.status) for a in attempts]) from failure
    failed = [attempt for attempt in attempts if attempt.failed]
    if failed:
        others = "".join(f"; also tried {a.url} ({a.status})" for a in attempts if a is not failed[0])
        raise BhavcopyError(day, failed[0].url, failed[0].status + others)
    raise NoFileError(day, [(attempt.url, attempt.status) for attempt in attempts])
