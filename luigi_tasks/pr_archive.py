"""NSE's PR archive: one zip a day (`PRDDMMYY.zip`, 13-15 members) that two datasets read.

`actions` reads its `Bc` member (corporate actions), `prices52` its `Pd` member (prices with the
52-week high and low). NSE has named the members `Bc180625.csv` (two-digit year) and, by late 2025,
`bc16122025.csv` (lower case, four-digit year); both are accepted. The zip itself is kept whole as
each dataset's raw file, and a dataset whose sibling already holds the day's zip copies it instead
of fetching it again (`Dataset.shares_raw_with`).
"""
from datetime import date

from .routes import Route

DATASETS = ("actions", "prices52")


def zip_name(day: date) -> str:
    return f"PR{day:%d%m%y}.zip"


def day_of(name: str) -> date:
    """The day of a `PRDDMMYY.zip` (or a `BcDDMMYY.csv` member): two-digit years 94-99 are 1994-1999,
    00-93 are 2000-2093 (NSE's first session was in 1994)."""
    digits = name.rsplit(".", 1)[0][-6:]
    day, month, year = int(digits[:2]), int(digits[2:4]), int(digits[4:])
    return date(1900 + year if year >= 94 else 2000 + year, month, day)


def member_names(prefix: str):
    """The names NSE has used for a day's member: `Bc180625.csv` and `bc18062025.csv`."""
    return lambda day: (f"{prefix}{day:%d%m%y}.csv", f"{prefix.lower()}{day:%d%m%Y}.csv")


def route(prefix: str) -> Route:
    return Route("pr-archive", lambda day: f"/archives/equities/bhavcopy/pr/{zip_name(day)}",
                 lambda day: member_names(prefix)(day)[0])


def siblings(dataset: str) -> tuple[str, ...]:
    return tuple(name for name in DATASETS if name != dataset)
