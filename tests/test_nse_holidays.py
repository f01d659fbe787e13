"""NSE's own holiday list, from the local emulator's /api/holiday-master, cached under DATA_DIR."""
import json
import logging
from datetime import date

import pytest
from luigi.execution_summary import LuigiStatusCode

from luigi_tasks import layout, nse_access, nse_holidays, run_calendar
from luigi_tasks.tasks import BhavcopyETL
from luigi_tasks.trading_calendar import DayInfo

NOW = "2026-12-02T18:00+05:30"
HOLIDAYS_2027 = [("26-Jan-2027", "Tuesday", "Republic Day"), ("22-Mar-2027", "Monday", "Holi"),
                 ("29-Oct-2027", "Friday", "Diwali Laxmi Pujan")]


def holiday_master(entries=HOLIDAYS_2027) -> bytes:
    rows = [{"Sr_no": i, "tradingDate": d, "weekDay": w, "description": text, "morning_session": "",
             "evening_session": ""} for i, (d, w, text) in enumerate(entries, 1)]
    return json.dumps({"CM": rows, "FO": rows, "CD": []}).encode()


@pytest.fixture
def listed(nse_server, data_dir, monkeypatch):
    monkeypatch.setenv(run_calendar.NOW_ENV, NOW)
    nse_server.holiday_master = holiday_master()
    return nse_server


def fresh_process():
    """What a new run starts with: no holiday list in memory, only what DATA_DIR holds."""
    run_calendar._holiday_list.cache_clear()
    nse_access.web_site.cache_clear()


def list_requests(server):
    return [r for r in server.full_requests if "/api/holiday-master" in r]


def test_parse_groups_by_year_and_refuses_what_it_cannot_read():
    assert nse_holidays.parse(holiday_master()) == {
        2027: frozenset({date(2027, 1, 26), date(2027, 3, 22), date(2027, 10, 29)})}
    for body in (b"<html>", b'{"FO": []}', b'{"CM": []}', b'{"CM": [{"tradingDate": "2027-01-26"}]}'):
        with pytest.raises(nse_holidays.HolidayListError):
            nse_holidays.parse(body)


def test_the_list_is_fetched_with_cookies_cached_and_knows_2027(listed, data_dir):
    assert run_calendar.day_info(date(2027, 1, 26)) == DayInfo(False, True, "nse-holiday-list")
    assert run_calendar.day_info(date(2027, 1, 27)) == DayInfo(True, True, "nse-holiday-list")
    assert run_calendar.day_info(date(2027, 1, 30)).session is False  # Saturday
    assert listed.full_requests == ["GET /", "GET /api/holiday-master?type=trading  [cookie]"]
    cached = json.loads(layout.holiday_list_path(data_dir).read_text())
    assert cached["fetched_at"] == "2026-12-02T18:00:00+05:30"
    assert nse_holidays.parse(cached["body"].encode()) == nse_holidays.parse(holiday_master())
    assert [p.name for p in layout.holiday_list_path(data_dir).parent.iterdir()] == ["holiday-master.json"]


def test_a_listed_2027_holiday_is_complete_and_costs_no_file_request(listed, data_dir, run_tasks, monkeypatch):
    monkeypatch.setenv(run_calendar.NOW_ENV, "2027-01-27T12:00+05:30")
    assert run_tasks(BhavcopyETL(date=date(2027, 1, 26), load_to_clickhouse=False)).status == LuigiStatusCode.SUCCESS
    assert [r for r in listed.full_requests if "/content/" in r or "/api/reports" in r] == []
    assert len(list_requests(listed)) == 1
    assert not (data_dir / "raw").exists()


def test_refreshed_at_most_daily(listed, data_dir, monkeypatch):
    run_calendar.day_info(date(2027, 1, 26))
    fresh_process()
    monkeypatch.setenv(run_calendar.NOW_ENV, "2026-12-03T17:59+05:30")  # 23:59 later: the cache answers
    assert run_calendar.day_info(date(2027, 3, 22)).session is False
    assert len(list_requests(listed)) == 1
    fresh_process()
    listed.holiday_master = holiday_master([("01-Feb-2027", "Monday", "Budget holiday (test)")])
    monkeypatch.setenv(run_calendar.NOW_ENV, "2026-12-03T18:00+05:30")  # a day later: asked again
    assert run_calendar.day_info(date(2027, 3, 22)).session is True
    assert run_calendar.day_info(date(2027, 2, 1)).session is False
    assert len(list_requests(listed)) == 2
    assert json.loads(layout.holiday_list_path(data_dir).read_text())["fetched_at"] == "2026-12-03T18:00:00+05:30"


def test_an_outage_uses_the_cache_with_one_warning(listed, data_dir, monkeypatch, caplog):
    run_calendar.day_info(date(2027, 1, 26))
    fresh_process()
    listed.holiday_outage = True
    monkeypatch.setenv(run_calendar.NOW_ENV, "2026-12-05T18:00+05:30")
    with caplog.at_level(logging.WARNING, logger=nse_holidays.__name__):
        assert run_calendar.day_info(date(2027, 1, 26)) == DayInfo(False, True, "nse-holiday-list")
        assert run_calendar.day_info(date(2027, 3, 22)).session is False
    warnings = [r for r in caplog.records if r.name == nse_holidays.__name__]
    assert len(warnings) == 1 and "using the copy from 2026-12-02T18:00:00+05:30" in warnings[0].getMessage()
    assert len(list_requests(listed)) > 1  # it did ask (503, retried by urllib3)


def test_an_outage_without_a_cache_falls_back_to_xbom_with_one_warning(listed, data_dir, caplog):
    listed.holiday_outage = True
    with caplog.at_level(logging.WARNING, logger=nse_holidays.__name__):
        assert run_calendar.day_info(date(2026, 12, 25)) == DayInfo(False, True, "xbom")
        assert run_calendar.day_info(date(2027, 1, 26)) == DayInfo(True, False, "weekday-rule")
        assert run_calendar.day_info(date(2027, 1, 27)).known is False
    warnings = [r for r in caplog.records if r.name == nse_holidays.__name__]
    assert len(warnings) == 1 and "uses exchange_calendars' XBOM alone" in warnings[0].getMessage()
    assert not layout.holiday_list_path(data_dir).exists()


def test_the_setting_turns_it_off_and_history_never_asks(listed, luigi_config):
    assert run_calendar.day_info(date(2024, 1, 26)) == DayInfo(False, True, "xbom")  # a past year XBOM knows
    assert listed.full_requests == []
    luigi_config("calendar", "holiday_list", "false")
    assert run_calendar.day_info(date(2027, 1, 26)).known is False
    assert listed.full_requests == []
