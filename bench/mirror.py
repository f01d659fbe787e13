"""A local NSE mirror of N trading days, re-dated from the real fixture files, both formats."""
from datetime import date
from pathlib import Path

from luigi_tasks import trading_calendar
from luigi_tasks.routes import UDIFF_FROM
from tests.nse_server import member_text, zip_bytes

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "data"
LEGACY_SOURCE, LEGACY_STAMP = "cm01DEC2022bhav.csv.zip", "01-DEC-2022"
UDIFF_SOURCE, UDIFF_STAMP = "BhavCopy_NSE_CM_0_0_0_20250618_F_0000.csv.zip", "2025-06-18"


def trading_days(count: int) -> list[date]:
    """`count` consecutive sessions with the format switch in the middle."""
    before = [d for d in trading_calendar.sessions(date(2023, 1, 1), UDIFF_FROM)][-(count // 2):] if count // 2 else []
    after = trading_calendar.sessions(UDIFF_FROM, date(2026, 1, 1))[: count - len(before)]
    return before + after


def build(days: list[date]) -> dict[str, bytes]:
    """NSE URL path -> body, for every day, in NSE's own layout and member names."""
    legacy, udiff = member_text(FIXTURES / LEGACY_SOURCE), member_text(FIXTURES / UDIFF_SOURCE)
    files = {}
    for day in days:
        if day >= UDIFF_FROM:
            member = f"BhavCopy_NSE_CM_0_0_0_{day:%Y%m%d}_F_0000.csv"
            text = udiff.replace(UDIFF_STAMP, day.isoformat())
            files[f"/content/cm/{member}.zip"] = zip_bytes({member: text})
        else:
            mon = day.strftime("%b").upper()
            member = f"cm{day:%d}{mon}{day:%Y}bhav.csv"
            text = legacy.replace(LEGACY_STAMP, f"{day:%d}-{mon}-{day:%Y}")
            files[f"/content/historical/EQUITIES/{day:%Y}/{mon}/{member}.zip"] = zip_bytes({member: text})
    return files
