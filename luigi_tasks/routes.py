"""Where NSE publishes a dataset's daily file, era by era, and in which order to ask.

Each dataset (datasets/*.py) lists its routes. Archive routes come first, the one whose era
contains the date before the others (UDiFF files exist for 2024-07-05); routes on the main site's
reports API come last, for old days the archive no longer serves (by 2026 its legacy path answers
404 for every date). Fetching them is source.py's job.
"""
from dataclasses import dataclass
from datetime import date
from typing import Callable

UDIFF_FROM = date(2024, 7, 8)  # NSE's CM and F&O bhavcopies are UDiFF files from this session on


@dataclass(frozen=True)
class Route:
    """One place NSE has published a dataset's daily file, and the file's name there."""

    name: str
    path: Callable[[date], str]
    member: Callable[[date], str]
    starts: date | None = None
    ends: date | None = None
    query: Callable[[date], dict] | None = None  # set for the reports API: its parameters for a day

    @property
    def on_web(self) -> bool:
        """True for the main site's reports API (NSE_WEB_URL, behind cookies), False for the archive."""
        return self.query is not None

    def covers(self, day: date) -> bool:
        return (self.starts is None or day >= self.starts) and (self.ends is None or day < self.ends)


def order_routes(routes, day: date) -> list[Route]:
    """Archive routes, the one whose era covers the day first; then reports API routes for that day."""
    usable = [route for route in routes if not route.on_web or route.covers(day)]
    return sorted(usable, key=lambda route: (route.on_web, not route.covers(day)))


def mon(day: date) -> str:
    """NSE's upper-case English month, as in cm01DEC2022bhav.csv."""
    return day.strftime("%b").upper()
