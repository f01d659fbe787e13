"""`python -m bench.local_archive [--files N]`: what indexing a user's archive costs, and a lookup.

Builds a folder of about N files (default 8,000) the way 20 years of downloads sit on a disk:
`<year>/<MON>/` folders holding the CM bhavcopy of every session since 2005 (NSE's zip on even
days, jugaad-data's bare CSV with a title-case month on odd ones, NSE's UDiFF zip from
2024-07-08) and the delivery file of the later sessions. Each is a real fixture trimmed to its
header and three rows and re-dated, so every file passes its checks. Then it measures, in this
process: building the index (local_archive.index, the one walk a backfill does), looking a day
up by its names, fetching a day (read and check), and, for comparison, walking the folder once
per lookup, which is what the index saves.
"""
import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from luigi_tasks import local_archive, trading_calendar
from luigi_tasks.datasets import DATASETS
from luigi_tasks.routes import UDIFF_FROM
from tests.nse_server import member_text, zip_bytes

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "data"
CAP = 200 * 1024 * 1024


def _head(text: str, rows: int = 3) -> str:
    return "\n".join(text.splitlines()[: rows + 1]) + "\n"


def build(folder: Path, count: int) -> dict[str, list[date]]:
    """About `count` files under `folder`; returns the days written, per dataset."""
    legacy = _head(member_text(FIXTURES / "cm01DEC2022bhav.csv.zip"))
    udiff = _head(member_text(FIXTURES / "BhavCopy_NSE_CM_0_0_0_20250618_F_0000.csv.zip"))
    full = _head((FIXTURES / "sec_bhavdata_full_18062025.csv").read_text())
    sessions = trading_calendar.sessions(date(2005, 1, 3), date(2026, 1, 1))
    cm_days = sessions[: min(len(sessions), count)]
    delivery_days = sessions[len(sessions) - max(0, min(len(sessions), count - len(cm_days))):]
    for day in cm_days:
        mon = day.strftime("%b").upper()
        where = folder / f"{day:%Y}" / mon
        where.mkdir(parents=True, exist_ok=True)
        if day >= UDIFF_FROM:
            member = f"BhavCopy_NSE_CM_0_0_0_{day:%Y%m%d}_F_0000.csv"
            (where / f"{member}.zip").write_bytes(zip_bytes({member: udiff.replace("2025-06-18", day.isoformat())}))
            continue
        text = legacy.replace("01-DEC-2022", f"{day:%d}-{mon}-{day:%Y}")
        if day.toordinal() % 2:
            (where / f"cm{day:%d%b%Y}bhav.csv").write_text(text)  # jugaad-data
        else:
            member = f"cm{day:%d}{mon}{day:%Y}bhav.csv"
            (where / f"{member}.zip").write_bytes(zip_bytes({member: text}))
    for day in delivery_days:
        where = folder / f"{day:%Y}" / day.strftime("%b").upper()
        where.mkdir(parents=True, exist_ok=True)
        (where / f"sec_bhavdata_full_{day:%d%m%Y}.csv").write_text(full.replace("18-Jun-2025", f"{day:%d-%b-%Y}"))
    return {"cm": cm_days, "delivery": delivery_days}


def _walk_lookup(folder: str, names: list[str]) -> list[str]:
    wanted = {name.lower() for name in names}
    return [os.path.join(parent, name) for parent, _, files in os.walk(folder)
            for name in files if name.lower() in wanted]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.local_archive")
    parser.add_argument("--files", type=int, default=8000, help="files in the archive (default 8,000)")
    parser.add_argument("--dir", help="work folder (default: a fresh one under /dev/shm); deleted unless --keep")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    work = Path(args.dir or tempfile.mkdtemp(prefix="nse-archive-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None))
    days = build(work / "archive", args.files)
    folders = (str(work / "archive"),)
    files = sum(len(names) for _, _, names in os.walk(folders[0]))

    index_s = []
    for _ in range(5):
        local_archive.index.cache_clear()
        started = time.perf_counter()
        archive = local_archive.index(folders)
        index_s.append(time.perf_counter() - started)
    pairs = [(DATASETS[name], day) for name, dates in days.items() for day in dates]

    started = time.perf_counter()
    hits = sum(len(archive.paths(dataset.archive_names(day))) for dataset, day in pairs)
    lookup_us = (time.perf_counter() - started) / len(pairs) * 1e6
    if hits != len(pairs):
        raise SystemExit(f"{hits} files found for {len(pairs)} dataset-days")

    started = time.perf_counter()
    for dataset, day in pairs:
        if local_archive.fetch(dataset, day, folders, CAP, offline=True) is None:
            raise SystemExit(f"{dataset.name} {day}: not found")
    fetch_ms = (time.perf_counter() - started) / len(pairs) * 1000

    sample = pairs[:: max(1, len(pairs) // 20)]
    started = time.perf_counter()
    for dataset, day in sample:
        _walk_lookup(folders[0], dataset.archive_names(day))
    walk_ms = (time.perf_counter() - started) / len(sample) * 1000

    print(f"files={files} dataset_days={len(pairs)} folders={sum(1 for _ in os.walk(folders[0]))}")
    print(f"index_ms first={index_s[0] * 1000:.1f} median={statistics.median(index_s) * 1000:.1f} (5 builds)")
    print(f"lookup_us_per_day={lookup_us:.1f} (names -> paths, from the index)")
    print(f"fetch_ms_per_day={fetch_ms:.2f} (lookup, read, unzip, peek; 4-row files)")
    print(f"walk_per_lookup_ms={walk_ms:.1f} (what one os.walk per day would cost instead)")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
