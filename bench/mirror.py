"""A local NSE mirror of N trading days, each in its era's layout, re-dated from the real fixtures.

Only modern files exist at full size in tests/data, so older eras are those files rewritten in the
older layout (NSE_SOURCES.md), keeping every row:
- cm: UDiFF from 2024-07-08; before, the legacy zip of 2022 (13 columns); before 2011 without
  TOTALTRADES and ISIN (11 columns); before 2005 with the day not zero-padded (`2-JAN-2004`, CM only);
  before 1997 with CRLF line endings.
- fo: UDiFF from 2024-07-08; before, the UDiFF file rewritten in the legacy 15-column layout
  (turnover in lakhs, futures XX); stock options American (`CA`/`PA`) before 2011.
- delivery: `sec_bhavdata_full`, one layout, from 2020-01-01.
Each file lands under NSE's own URL path (tests/nse_server.nse_url_path) in a folder, so the same
folder serves as the HTTP mirror and as a local archive, and a full history stays out of RAM.
"""
import csv
import functools
import io
import logging
from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path

from luigi_tasks import trading_calendar
from luigi_tasks.datasets import DATASETS
from luigi_tasks.routes import UDIFF_FROM
from tests.nse_server import member_text, nse_url_path, zip_bytes

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "data"
SWITCH = UDIFF_FROM  # UDiFF from here on (routes.py)
LAST = date(2025, 12, 31)  # the mirror's last possible session
ELEVEN_COLUMNS, UNPADDED, CRLF, AMERICAN = date(2011, 1, 1), date(2005, 1, 1), date(1997, 1, 1), date(2011, 1, 1)
SUPPORTED = ("cm", "fo", "delivery")


def trading_days(count: int, end: date | None = None) -> list[date]:
    """`count` consecutive sessions: ending on `end`'s session if given, else with the format switch in
    the middle while the calendar allows (after it there are only sessions up to LAST), reaching back
    towards 1994-11-03 for longer ranges. More than the whole history gives the whole history."""
    logging.getLogger(trading_calendar.__name__).setLevel(logging.ERROR)  # the pre-1997 guess is known here
    every = trading_calendar.sessions(DATASETS["cm"].starts, LAST + timedelta(days=1))
    if end is not None:
        last = max(i for i, day in enumerate(every) if day <= end)
    else:
        switch = every.index(SWITCH)
        last = min(len(every) - 1, switch + count - count // 2 - 1)
    return every[max(0, last + 1 - count): last + 1]


def _stamped(text: str, stamp: str) -> list[str]:
    parts = text.split(stamp)
    if len(parts) < 2:
        raise ValueError(f"fixture has no {stamp!r} to re-date")
    return parts


def _strip_columns(text: str, keep: int) -> str:
    """Legacy CM without its last columns: the first `keep` fields, and the trailing comma."""
    return "".join(",".join(line.split(",")[:keep]) + ",\n" for line in text.splitlines())


LEGACY_FO = {"IDF": "FUTIDX", "STF": "FUTSTK", "IDO": "OPTIDX", "STO": "OPTSTK"}
LEGACY_FO_HEADER = ("INSTRUMENT,SYMBOL,EXPIRY_DT,STRIKE_PR,OPTION_TYP,OPEN,HIGH,LOW,CLOSE,SETTLE_PR,CONTRACTS,"
                    "VAL_INLAKH,OPEN_INT,CHG_IN_OI,TIMESTAMP,\n")


def _legacy_fo(udiff: str, american: bool) -> str:
    """The UDiFF F&O file in the legacy layout: NSE's instrument names, `dd-Mon-YYYY` expiries, lakhs."""
    out = [LEGACY_FO_HEADER]
    for row in csv.DictReader(io.StringIO(udiff)):
        expiry = date.fromisoformat(row["XpryDt"]).strftime("%d-%b-%Y")
        option = row["OptnTp"] or "XX"
        if american and row["FinInstrmTp"] == "STO":
            option = {"CE": "CA", "PE": "PA"}[option]
        lakhs = float(row["TtlTrfVal"] or 0) / 100_000
        out.append(f"{LEGACY_FO[row['FinInstrmTp']]},{row['TckrSymb']},{expiry},{row['StrkPric'] or 0},{option},"
                   f"{row['OpnPric']},{row['HghPric']},{row['LwPric']},{row['ClsPric']},{row['SttlmPric']},"
                   f"{row['TtlTradgVol']},{lakhs:.5f},{row['OpnIntrst']},{row['ChngInOpnIntrst']},03-FEB-2025,\n")
    return "".join(out)


@functools.lru_cache(maxsize=None)
def template(dataset: str, era: str) -> tuple[list[str], int]:
    """The fixture text of an era split on its date stamp, and its data rows."""
    cm_legacy = lambda: member_text(FIXTURES / "cm01DEC2022bhav.csv.zip")  # noqa: E731
    fo_udiff = lambda: member_text(FIXTURES / "BhavCopy_NSE_FO_0_0_0_20250203_F_0000.csv.zip")  # noqa: E731
    texts = {
        ("cm", "udiff"): (lambda: member_text(FIXTURES / "BhavCopy_NSE_CM_0_0_0_20250618_F_0000.csv.zip"), "2025-06-18"),
        ("cm", "legacy13"): (cm_legacy, "01-DEC-2022"),
        ("cm", "legacy11"): (lambda: _strip_columns(cm_legacy(), 11), "01-DEC-2022"),
        ("cm", "legacy11-crlf"): (lambda: _strip_columns(cm_legacy(), 11).replace("\n", "\r\n"), "01-DEC-2022"),
        ("fo", "udiff"): (fo_udiff, "2025-02-03"),
        ("fo", "legacy"): (lambda: _legacy_fo(fo_udiff(), american=False), "03-FEB-2025"),
        ("fo", "legacy-american"): (lambda: _legacy_fo(fo_udiff(), american=True), "03-FEB-2025"),
        ("delivery", "full"): (lambda: (FIXTURES / "sec_bhavdata_full_18062025.csv").read_text(), "18-Jun-2025"),
    }
    make, stamp = texts[dataset, era]
    text = make()
    return _stamped(text, stamp), len(text.splitlines()) - 1


def era(dataset: str, day: date) -> str:
    if dataset == "delivery":
        return "full"
    if day >= SWITCH:
        return "udiff"
    if dataset == "fo":
        return "legacy-american" if day < AMERICAN else "legacy"
    if day >= ELEVEN_COLUMNS:
        return "legacy13"
    return "legacy11-crlf" if day < CRLF else "legacy11"


def file_for(dataset: str, day: date) -> tuple[str, bytes, int]:
    """(NSE's URL path, body, data rows) of one dataset's file for one day."""
    layout = era(dataset, day)
    parts, rows = template(dataset, layout)
    mon = day.strftime("%b").upper()
    if dataset == "delivery":
        name = f"sec_bhavdata_full_{day:%d%m%Y}.csv"
        return nse_url_path(name), day.strftime("%d-%b-%Y").join(parts).encode(), rows
    if layout == "udiff":
        member = f"BhavCopy_NSE_{dataset.upper()}_0_0_0_{day:%Y%m%d}_F_0000.csv"
        stamp = day.isoformat()
    else:
        member = f"{dataset}{day:%d}{mon}{day:%Y}bhav.csv"
        padded = dataset != "cm" or day >= UNPADDED  # seen in CM files; F&O's early days are not documented
        stamp = f"{f'{day:%d}' if padded else day.day}-{mon}-{day:%Y}"
    return nse_url_path(member + ".zip"), zip_bytes({member: stamp.join(parts)}), rows


class Folder(Mapping):
    """URL path -> body, read from the mirror's folder on request (what NSEServer looks up)."""

    def __init__(self, root: Path):
        self.root = root

    def _path(self, url_path: str) -> Path:
        return self.root / url_path.lstrip("/")

    def __getitem__(self, url_path: str) -> bytes:
        path = self._path(url_path)
        if ".." in url_path or not path.is_file():
            raise KeyError(url_path)
        return path.read_bytes()

    def __iter__(self):
        return (f"/{path.relative_to(self.root)}" for path in self.root.rglob("*") if path.is_file())

    def __len__(self):
        return sum(1 for _ in self)


def build(days: list[date], datasets: tuple[str, ...] = ("cm",)) -> dict[str, bytes]:
    """URL path -> body in memory, for a few days (the tests' mirrors)."""
    return {url_path: body for day in days for dataset in datasets if day >= DATASETS[dataset].starts
            for url_path, body, _ in [file_for(dataset, day)]}


def write(days: list[date], datasets: list[str], root: Path) -> tuple[Folder, dict[str, int], list]:
    """Every dataset's file for every day it exists (from the dataset's first day) under `root`.

    Returns the folder as a mapping, the rows each dataset's lake must then hold, and the manifest
    ([dataset, day, url path] per file) that the bare script works through.
    """
    unknown = sorted(set(datasets) - set(SUPPORTED))
    if unknown:
        raise SystemExit(f"the mirror has no fixtures for {unknown}; it knows {list(SUPPORTED)}")
    expected, manifest = dict.fromkeys(datasets, 0), []
    for day in days:
        for dataset in datasets:
            if day < DATASETS[dataset].starts:
                continue
            url_path, body, rows = file_for(dataset, day)
            target = root / url_path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(body)
            expected[dataset] += rows
            manifest.append([dataset, day.isoformat(), url_path])
    return Folder(root), expected, manifest
