"""What a missing file means at a given moment: pure decisions, no Luigi, no network."""
import ast
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from luigi_tasks import availability as av
from luigi_tasks.availability import Need
from luigi_tasks.trading_calendar import DayInfo

IST = ZoneInfo("Asia/Kolkata")
DAY = date(2026, 12, 2)  # a Wednesday
KNOWN = DayInfo(True, True, "xbom")
GUESSED = DayInfo(True, False, "weekday-rule")
CLOSED = DayInfo(False, True, "xbom")
TIMING = av.Timing(publish_hour_ist=19, grace_hours=15, settle_days=7)


def at(*args):
    return datetime(*args, tzinfo=IST)


@pytest.mark.parametrize("now, expected", [
    (at(2026, 12, 2, 18, 0), Need.NOT_DUE),  # the 18:00 timer: today is skipped
    (at(2026, 12, 1, 21, 0), Need.NOT_DUE),  # a future day
    (at(2026, 12, 2, 19, 0), Need.LATE_IF_MISSING),  # due from the publish hour
    (at(2026, 12, 2, 19, 30), Need.LATE_IF_MISSING),
    (at(2026, 12, 3, 9, 59), Need.LATE_IF_MISSING),  # the next morning, still within 15 hours
    (at(2026, 12, 3, 10, 0), Need.FETCH),  # grace over: a missing file fails
    (at(2026, 12, 3, 18, 0), Need.FETCH),
])
def test_a_known_session(now, expected):
    assert av.need("cm", DAY, KNOWN, now, TIMING) is expected


@pytest.mark.parametrize("now, expected", [
    (at(2026, 12, 2, 18, 0), Need.NOT_DUE),
    (at(2026, 12, 2, 19, 30), Need.UNKNOWN_IF_MISSING),  # a guess is never "late"
    (at(2026, 12, 9, 18, 59), Need.UNKNOWN_IF_MISSING),  # within settle_days
    (at(2026, 12, 9, 19, 0), Need.CLOSED_IF_MISSING),  # settled: NSE's silence becomes a record
])
def test_a_guessed_session(now, expected):
    assert av.need("cm", DAY, GUESSED, now, TIMING) is expected


def test_closed_days_and_days_before_a_dataset_need_nothing():
    late = at(2030, 1, 1, 12, 0)
    assert av.need("cm", DAY, CLOSED, late, TIMING) is Need.CLOSED
    assert av.need("fo", date(2000, 6, 9), KNOWN, late, TIMING) is Need.BEFORE_FIRST_DAY
    assert av.need("fo", date(2000, 6, 12), KNOWN, late, TIMING) is Need.FETCH
    assert av.need("cm", date(1994, 11, 2), GUESSED, late, TIMING) is Need.BEFORE_FIRST_DAY
    assert av.need("cm", date(1994, 11, 3), GUESSED, late, TIMING) is Need.CLOSED_IF_MISSING
    assert all(need.needs_nothing for need in (Need.CLOSED, Need.BEFORE_FIRST_DAY, Need.NOT_DUE))
    assert not any(need.needs_nothing for need in (Need.FETCH, Need.LATE_IF_MISSING, Need.UNKNOWN_IF_MISSING))


def test_settings_move_the_boundaries():
    short = av.Timing(publish_hour_ist=20, grace_hours=1, settle_days=0.5)
    assert av.need("cm", DAY, KNOWN, at(2026, 12, 2, 19, 30), short) is Need.NOT_DUE
    assert av.need("cm", DAY, KNOWN, at(2026, 12, 2, 20, 59), short) is Need.LATE_IF_MISSING
    assert av.need("cm", DAY, KNOWN, at(2026, 12, 2, 21, 0), short) is Need.FETCH
    assert av.need("cm", DAY, GUESSED, at(2026, 12, 3, 8, 0), short) is Need.CLOSED_IF_MISSING


def test_now_must_be_aware_and_utc_works_like_ist():
    with pytest.raises(ValueError, match="time-zone aware"):
        av.need("cm", DAY, KNOWN, datetime(2026, 12, 2, 19, 30), TIMING)
    utc = at(2026, 12, 2, 19, 30).astimezone(ZoneInfo("UTC"))
    assert av.need("cm", DAY, KNOWN, utc, TIMING) is Need.LATE_IF_MISSING
    assert av.need("cm", DAY, KNOWN, utc - timedelta(hours=1), TIMING) is Need.NOT_DUE


def test_explanations_name_the_day_and_the_deadline():
    assert av.explain(Need.LATE_IF_MISSING, DAY, KNOWN, TIMING) == (
        "2026-12-02 is late: due 2026-12-02 19:00 IST, tolerated until 2026-12-03 10:00 IST ([calendar] grace_hours)")
    assert "only guesses" in av.explain(Need.UNKNOWN_IF_MISSING, DAY, GUESSED, TIMING)
    assert "2026-12-09 19:00 IST" in av.explain(Need.UNKNOWN_IF_MISSING, DAY, GUESSED, TIMING)


def test_closed_record_says_why_where_and_when():
    record = av.closed_record("cm", date(1995, 1, 26), GUESSED, [("http://x/a.zip", "HTTP 404")], at(2026, 12, 2, 19))
    assert record == {
        "date": "1995-01-26", "dataset": "cm",
        "reason": "no file at any route long after it was due, on a day the calendar only guesses is a session "
                  "(weekday-rule)",
        "routes_tried": [{"url": "http://x/a.zip", "answer": "HTTP 404"}],
        "recorded_at": "2026-12-02T19:00:00+05:30",
    }


def test_module_is_pure():
    tree = ast.parse(Path(av.__file__).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {(node.module or "").split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not imported & {"luigi", "requests", "os", "pathlib"}
