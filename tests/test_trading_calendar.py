"""The NSE trading calendar: XBOM, NSE's holiday list, the packaged overrides, the caller's extras."""
import ast
import logging
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import luigi
import pytest

from luigi_tasks import trading_calendar as tc
from luigi_tasks.config import calendar as calendar_config

IST = ZoneInfo("Asia/Kolkata")
D = date.fromisoformat

SPECIAL_SESSIONS = [
    "2006-10-21", "2009-10-17", "2013-11-03", "2015-02-28", "2016-10-30",
    "2019-10-27", "2020-02-01", "2020-11-14", "2023-11-12", "2024-01-20", "2024-03-02",
    "2024-05-18", "2025-02-01", "2026-02-01",  # Saturday/Sunday sessions
    "2014-10-23", "2015-11-11", "2017-10-19", "2018-11-07", "2021-11-04",
    "2022-10-24", "2024-11-01", "2025-10-21",  # Muhurat trading on a weekday holiday
]
# Muhurat sessions XBOM already counts as sessions (weekdays it does not list as holidays).
MUHURAT_XBOM_KNOWS = ["2005-11-01", "2007-11-09", "2008-10-28", "2010-11-05", "2011-10-26", "2012-11-13"]


def ist(*args):
    return datetime(*args, tzinfo=IST)


@pytest.mark.parametrize("day", ["2024-01-13", "2024-01-14", "2025-08-16", "2025-08-17"])
def test_weekend_is_closed(day):
    assert tc.is_session(D(day)) is False


@pytest.mark.parametrize("day", ["2025-08-15", "2024-01-26", "2024-12-25"])
def test_ordinary_holiday_is_closed(day):
    assert tc.is_session(D(day)) is False


@pytest.mark.parametrize("day", ["2024-01-19", "2024-06-07", "2025-08-14"])
def test_ordinary_weekday_is_open(day):
    assert tc.is_session(D(day)) is True


@pytest.mark.parametrize("day", SPECIAL_SESSIONS)
def test_special_sessions_are_open(day):
    assert tc.is_session(D(day)) is True


@pytest.mark.parametrize("day", ["2024-01-22", "2024-05-20", "2024-11-20"])
def test_unscheduled_closures_are_closed(day):
    assert tc.is_session(D(day)) is False


@pytest.mark.parametrize("day", MUHURAT_XBOM_KNOWS)
def test_muhurat_sessions_xbom_already_has_are_open_without_a_row(day):
    assert tc.day_info(D(day)) == tc.DayInfo(True, True, "xbom")


def test_every_packaged_row_corrects_xbom():
    """The CSV's rule: only days XBOM gets wrong. A row XBOM agrees with is noise and hides nothing."""
    tc._packaged.cache_clear()
    sessions, closures = tc._packaged()
    xbom, _ = tc._xbom()
    assert [d for d in sessions if d in xbom] == []
    assert [d for d in closures if d not in xbom] == []


def test_packaged_csv_loads_with_exactly_the_special_sessions():
    tc._packaged.cache_clear()
    sessions, closures = tc._packaged()
    assert sessions == {D(d) for d in SPECIAL_SESSIONS}
    assert closures == set()


def test_caller_extras_accept_dates_and_iso_strings():
    sunday, weekday = D("2024-06-09"), D("2024-06-10")
    assert tc.is_session(sunday) is False
    assert tc.is_session(sunday, extra_sessions=["2024-06-09"]) is True
    assert tc.is_session(sunday, extra_sessions=(sunday,)) is True
    assert tc.is_session(weekday) is True
    assert tc.is_session(weekday, extra_closures=("2024-06-10",)) is False


def test_extra_session_beats_xbom_holiday_and_extra_closure_beats_everything():
    assert tc.is_session(D("2025-08-15"), extra_sessions=["2025-08-15"]) is True
    assert tc.is_session(D("2024-11-01"), extra_closures=["2024-11-01"]) is False  # packaged session
    assert tc.is_session(D("2025-08-15"), extra_sessions=["2025-08-15"], extra_closures=["2025-08-15"]) is False


def test_precedence_with_a_packaged_closure(monkeypatch):
    packaged_session, packaged_closure = D("2024-06-09"), D("2024-06-10")  # a Sunday, an XBOM session
    monkeypatch.setattr(tc, "_packaged", lambda: (frozenset({packaged_session}), frozenset({packaged_closure})))
    assert tc.is_session(packaged_closure) is False  # a packaged closure beats XBOM
    assert tc.is_session(packaged_closure, extra_sessions=[packaged_closure]) is True  # a session beats it
    assert tc.is_session(packaged_session) is True
    assert tc.is_session(packaged_session, extra_closures=[packaged_session]) is False


def test_a_bare_string_or_a_datetime_is_refused():
    with pytest.raises(TypeError):
        tc.is_session(D("2024-06-09"), extra_sessions="2024-06-09")
    with pytest.raises(TypeError):
        tc.is_session(datetime(2024, 6, 10, 12))


def test_sessions_skip_weekends_and_holidays_and_stop_is_exclusive():
    assert tc.sessions(D("2024-01-15"), D("2024-01-29")) == [
        D("2024-01-15"), D("2024-01-16"), D("2024-01-17"), D("2024-01-18"), D("2024-01-19"),
        D("2024-01-20"),  # Saturday session; 22 closed, 26 Republic Day, 27-28 weekend, 29 is stop
        D("2024-01-23"), D("2024-01-24"), D("2024-01-25"),
    ]
    assert tc.sessions(D("2025-10-17"), D("2025-10-28")) == [
        D("2025-10-17"), D("2025-10-20"), D("2025-10-21"),  # Muhurat on the Diwali holiday
        D("2025-10-23"), D("2025-10-24"), D("2025-10-27"),
    ]
    assert tc.sessions(D("2024-01-15"), D("2024-01-15")) == []
    assert tc.sessions(D("2024-01-19"), D("2024-01-23"), extra_sessions=["2024-01-21"],
                       extra_closures=["2024-01-20"]) == [D("2024-01-19"), D("2024-01-21")]


def test_sessions_over_a_year_are_xboms_plus_the_files():
    # XBOM has 245 sessions in 2024; the file adds 2024-01-20, 03-02, 05-18 and 11-01.
    assert len(tc.sessions(D("2024-01-01"), D("2025-01-01"))) == 245 + 4


@pytest.mark.parametrize(
    "now, expected",
    [
        (ist(2024, 1, 19, 18, 59), "2024-01-18"),  # Friday, before NSE publishes
        (ist(2024, 1, 19, 19, 0), "2024-01-19"),  # at 19:00 the day's file is due
        (datetime(2024, 1, 19, 13, 29), "2024-01-18"),  # naive = UTC: 18:59 IST
        (datetime(2024, 1, 19, 13, 30), "2024-01-19"),  # naive = UTC: 19:00 IST
        (datetime(2024, 1, 19, 8, 30, tzinfo=ZoneInfo("America/New_York")), "2024-01-19"),  # 19:00 IST
        (datetime(2024, 1, 18, 20, 0, tzinfo=timezone.utc), "2024-01-18"),  # already the 19th in IST
        (ist(2024, 6, 10, 9, 0), "2024-06-07"),  # Monday morning -> Friday
        (ist(2024, 3, 4, 9, 0), "2024-03-02"),  # Monday morning -> Saturday special session
        (ist(2024, 1, 22, 20, 0), "2024-01-20"),  # closed Monday evening -> Saturday session
        (ist(2025, 8, 15, 21, 0), "2025-08-14"),  # holiday evening -> day before
        (ist(2024, 11, 1, 20, 0), "2024-11-01"),  # Muhurat evening
    ],
)
def test_previous_business_day(now, expected):
    assert tc.previous_business_day(now) == D(expected)


def test_previous_business_day_honours_publish_hour_and_extras():
    assert tc.previous_business_day(ist(2024, 1, 19, 17, 0)) == D("2024-01-18")
    assert tc.previous_business_day(ist(2024, 1, 19, 17, 0), publish_hour_ist=17) == D("2024-01-19")
    assert tc.previous_business_day(ist(2024, 1, 19, 20, 0), extra_closures=["2024-01-19"]) == D("2024-01-18")
    assert tc.previous_business_day(ist(2024, 6, 10, 9, 0), extra_sessions=["2024-06-08"]) == D("2024-06-08")
    with pytest.raises(ValueError):
        tc.previous_business_day(ist(2024, 1, 19, 20, 0), publish_hour_ist=24)


def test_before_nses_first_file_every_day_is_closed_and_known():
    assert tc.day_info(D("1994-11-02")) == tc.DayInfo(False, True, "before-nse")
    assert tc.day_info(D("1990-01-01")) == tc.DayInfo(False, True, "before-nse")
    assert tc.sessions(D("1994-10-31"), D("1994-11-05")) == [D("1994-11-03"), D("1994-11-04")]


def test_no_source_before_1997_so_days_are_guessed_and_say_so(caplog):
    tc._warn_guessing.cache_clear()
    with caplog.at_level(logging.WARNING, logger=tc.__name__):
        assert tc.day_info(D("1995-01-26")) == tc.DayInfo(True, False, "weekday-rule")  # Republic Day: a guess
        assert tc.day_info(D("1995-01-28")) == tc.DayInfo(False, False, "weekday-rule")  # a Saturday
        tc.day_info(D("1996-06-03"))
    assert caplog.text.count("no holiday source covers days before 1997-01-01") == 1
    assert tc.day_info(D("1997-01-02")).known is True


def test_ranges_across_1997_and_2005_are_answered_not_refused():
    assert tc.sessions(D("1996-12-30"), D("1997-01-03")) == [D("1996-12-30"), D("1996-12-31"), D("1997-01-01"),
                                                            D("1997-01-02")]
    assert [tc.day_info(d).known for d in tc.sessions(D("1996-12-30"), D("1997-01-03"))] == [False, False, True, True]
    assert tc.sessions(D("2004-12-30"), D("2005-01-04")) == [D("2004-12-30"), D("2004-12-31"), D("2005-01-03")]
    assert len(tc.sessions(D("1994-11-03"), D("2027-01-01"))) > 8000


def test_previous_business_day_in_nses_first_days():
    assert tc.previous_business_day(ist(1994, 11, 7, 9, 0)) == D("1994-11-04")
    with pytest.raises(ValueError, match="no NSE session between 1994-11-03 and 1994-11-03"):
        tc.previous_business_day(ist(1994, 11, 3, 9, 0))


def test_after_xbom_holidays_end_the_weekday_rule_applies_with_a_warning(caplog):
    first, last_known = tc.calendar_bounds()
    assert first == D("1997-01-01")
    assert last_known >= D("2026-12-31")
    monday = last_known + timedelta(days=1)
    monday += timedelta(days=-monday.weekday() % 7)
    tc._warn_guessing.cache_clear()
    with caplog.at_level(logging.WARNING, logger=tc.__name__):
        assert tc.sessions(monday, monday + timedelta(days=7)) == [monday + timedelta(days=i) for i in range(5)]
    assert caplog.text.count(f"no holiday source covers days after {last_known}") == 1
    assert "weekday rule" in caplog.text
    assert tc.day_info(monday).known is False
    assert tc.is_session(monday, extra_closures=[monday]) is False


NSE_2027 = {2027: frozenset({D("2027-01-26"), D("2027-03-22"), D("2027-10-29")})}


def test_nses_holiday_list_knows_a_year_xbom_does_not():
    assert tc.day_info(D("2027-01-26"), holidays=NSE_2027) == tc.DayInfo(False, True, "nse-holiday-list")
    assert tc.day_info(D("2027-01-27"), holidays=NSE_2027) == tc.DayInfo(True, True, "nse-holiday-list")
    assert tc.day_info(D("2027-01-30"), holidays=NSE_2027).session is False  # a Saturday
    assert tc.day_info(D("2028-01-26"), holidays=NSE_2027).known is False  # a year the list does not cover


def test_nses_holiday_list_outranks_xbom_but_not_the_overrides():
    listed_2024 = {2024: frozenset({D("2024-06-10")})}  # a Monday XBOM calls a session
    assert tc.is_session(D("2024-06-10")) is True
    assert tc.day_info(D("2024-06-10"), holidays=listed_2024) == tc.DayInfo(False, True, "nse-holiday-list")
    assert tc.is_session(D("2024-01-26"), holidays=listed_2024) is True  # not listed: a weekday session
    assert tc.is_session(D("2024-01-20"), holidays=listed_2024) is True  # the packaged Saturday session
    assert tc.is_session(D("2024-06-11"), holidays=listed_2024, extra_closures=["2024-06-11"]) is False


def test_module_is_pure_no_luigi_import():
    tree = ast.parse(Path(tc.__file__).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert "luigi" not in imported


def test_config_defaults_and_section():
    parser = luigi.configuration.get_config()
    had_section = parser.has_section("calendar")
    saved = dict(parser.items("calendar")) if had_section else {}
    if not had_section:
        cfg = calendar_config()
        assert (tuple(cfg.extra_sessions), tuple(cfg.extra_closures), cfg.publish_hour_ist) == ((), (), 19)
        parser.add_section("calendar")
    try:
        parser.set("calendar", "extra_closures", '["2027-01-26"]')
        parser.set("calendar", "publish_hour_ist", "20")
        cfg = calendar_config()
        assert tuple(cfg.extra_closures) == ("2027-01-26",)
        assert cfg.publish_hour_ist == 20
        assert tc.is_session(D("2027-01-26"), extra_closures=cfg.extra_closures) is False
    finally:
        if had_section:
            for key in ("extra_closures", "publish_hour_ist"):
                if key in saved:
                    parser.set("calendar", key, saved[key])
                else:
                    parser.remove_option("calendar", key)
        else:
            parser.remove_section("calendar")
