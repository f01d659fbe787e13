"""What a missing file means, through real runs at an injected "now" (NSE_ETL_NOW).

The evening timer fires at 18:00 IST, before NSE publishes: today must cost nothing. At 19:30 a
missing file is late: Luigi's "missing data" (exit 20), no e-mail. The next evening it is a
failure (exit 30, e-mail). A day the calendar only guesses is never an alarm: unknown while
recent, recorded as closed long after.
"""
import email
import socket
import json
import os
import subprocess
import sys
from datetime import date, datetime

import pytest
from luigi.execution_summary import LuigiStatusCode

from luigi_tasks import RangeDaily, layout, nse_access, run_calendar
from luigi_tasks.__main__ import main
from luigi_tasks.tasks import BhavcopyETL

from tests.support import DATA
from tests.nse_server import member_text, zip_bytes
from tests.smtp_server import SMTPServer

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DAY = date(2026, 12, 2)  # a Wednesday XBOM knows is a session
UDIFF_FIXTURE = "BhavCopy_NSE_CM_0_0_0_20250618_F_0000.csv.zip"
LEGACY_FIXTURE = "cm01DEC2022bhav.csv.zip"
AT_1800, AT_1930, NEXT_DAY = "2026-12-02T18:00+05:30", "2026-12-02T19:30+05:30", "2026-12-03T18:00+05:30"


def udiff_name(day: date) -> str:
    return f"BhavCopy_NSE_CM_0_0_0_{day:%Y%m%d}_F_0000.csv"


def legacy_name(day: date) -> str:
    return f"cm{day:%d}{day.strftime('%b').upper()}{day:%Y}bhav.csv"


def publish_udiff(server, day: date) -> None:
    text = member_text(DATA / UDIFF_FIXTURE).replace("2025-06-18", day.isoformat())
    server.put(udiff_name(day) + ".zip", zip_bytes({udiff_name(day): text}))


def publish_legacy(server, day: date) -> None:
    text = member_text(DATA / LEGACY_FIXTURE).replace("01-DEC-2022", day.strftime("%d-%b-%Y").upper())
    server.put(legacy_name(day) + ".zip", zip_bytes({legacy_name(day): text}))


def file_requests(server) -> list[str]:
    """Requests for a day's file (archive paths and the reports API), not cookies or the holiday list."""
    return [path for path in server.paths_requested() if path.startswith("/content/") or path == "/api/reports"]


def etl(day=DAY, **kwargs):
    return BhavcopyETL(date=day, load_to_clickhouse=False, **kwargs)


def backfill(start, stop, now=None):
    """RangeDaily as the timer runs it; its window ends at `now` (NSE_ETL_NOW's moment), as in production."""
    return RangeDaily(of=BhavcopyETL, start=start, stop=stop, of_params={"load_to_clickhouse": False},
                      now=None if now is None else epoch(now))


def epoch(moment: str) -> int:
    return int(datetime.fromisoformat(moment).timestamp())


@pytest.fixture
def at(monkeypatch):
    def set_now(moment: str):
        monkeypatch.setenv(run_calendar.NOW_ENV, moment)
        nse_access._PROBES.clear()  # a new run is a new process: nothing probed yet
        run_calendar._holiday_list.cache_clear()
    return set_now


@pytest.fixture
def smtp(luigi_config):
    with SMTPServer() as server:
        for section, option, value in [("email", "receiver", "ops@example.com"), ("email", "sender", "etl@example.com"),
                                       ("email", "method", "smtp"), ("email", "force_send", "true"),
                                       ("smtp", "host", "127.0.0.1"), ("smtp", "port", str(server.port)),
                                       ("smtp", "no_tls", "true")]:
            luigi_config(section, option, value)
        yield server


def cli(data_dir, nse_server, tmp_path, now, *args, smtp_port=None):
    """`luigi --module luigi_tasks ...` as systemd runs it (shipped luigi.cfg), at `now`; (exit code, output)."""
    quick = tmp_path / "quick.cfg"
    text = ("[worker]\nkeep_alive = false\n[retries]\ndownload = 1\n[BhavcopyETL]\ndatasets = [\"cm\"]\n"
            "[nse]\napi_min_interval = 0\nbackoff_factor = 0\n")
    if smtp_port:
        text += ("[email]\nreceiver = ops@example.com\nsender = etl@example.com\nmethod = smtp\nforce_send = true\n"
                 f"[smtp]\nhost = 127.0.0.1\nport = {smtp_port}\nno_tls = true\n")
    quick.write_text(text)
    env = {**os.environ, "DATA_DIR": str(data_dir), "NSE_BASE_URL": nse_server.url, "NSE_WEB_URL": nse_server.url,
           "MLFLOW_ENABLED": "false", "LUIGI_CONFIG_PATH": str(quick), run_calendar.NOW_ENV: now}
    completed = subprocess.run([sys.executable, "-m", "luigi", "--module", "luigi_tasks", *args, "--local-scheduler"],
                               cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    return completed.returncode, completed.stdout + completed.stderr


# ---- a known session: not due, late, failed ----

def test_at_1800_today_is_not_due_and_costs_nothing(data_dir, nse_server, run_tasks, at, smtp):
    at(AT_1800)
    result = run_tasks(backfill(date(2026, 12, 2), date(2026, 12, 10), AT_1800))  # the window ends "now"
    assert result.status == LuigiStatusCode.SUCCESS
    assert file_requests(nse_server) == []
    assert not (data_dir / "raw").exists()
    assert smtp.messages == []
    assert BhavcopyETL.bulk_complete.__func__(lambda **kw: BhavcopyETL(load_to_clickhouse=False, **kw), [DAY]) == [DAY]
    assert main(["status", "--start", "2026-12-02", "--stop", "2026-12-03", "--load-to-clickhouse", "false"]) == 0


def test_at_1930_a_missing_file_is_late_not_a_failure(data_dir, nse_server, run_tasks, at, smtp, capsys):
    at(AT_1930)
    result = run_tasks(etl())
    assert result.status == LuigiStatusCode.MISSING_EXT
    # probed once in this run (requires/complete are asked several times), on each archive route
    assert sorted(file_requests(nse_server)) == sorted([
        f"/content/cm/{udiff_name(DAY)}.zip", f"/content/historical/EQUITIES/2026/DEC/{legacy_name(DAY)}.zip"])
    assert not (data_dir / "raw").exists() and not (data_dir / "closed").exists()
    assert smtp.messages == []
    assert BhavcopyETL.bulk_complete.__func__(lambda **kw: BhavcopyETL(load_to_clickhouse=False, **kw), [DAY]) == []
    assert main(["status", "--start", "2026-12-02", "--stop", "2026-12-03", "--load-to-clickhouse", "false"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == (
        "2026-12-02  cm       late      (due, not yet published; within [calendar] grace_hours)")


def test_at_1930_a_published_file_is_fetched_once(data_dir, nse_server, run_tasks, at):
    at(AT_1930)
    publish_udiff(nse_server, DAY)
    assert run_tasks(etl()).status == LuigiStatusCode.SUCCESS
    assert file_requests(nse_server) == [f"/content/cm/{udiff_name(DAY)}.zip"]  # the probe's body is the download
    assert layout.lake_path(data_dir, "cm", DAY).exists()


def test_the_cli_exit_codes_and_emails_evening_by_evening(data_dir, nse_server, tmp_path):
    with SMTPServer() as smtp:
        args = ("RangeDaily", "--of", "BhavcopyETL", "--start", "2026-12-02", "--stop", "2026-12-10",
                "--BhavcopyETL-load-to-clickhouse", "false")
        code, out = cli(data_dir, nse_server, tmp_path, AT_1800, *args, "--now", str(epoch(AT_1800)),
                        smtp_port=smtp.port)
        assert code == 0, out[-2000:]
        assert file_requests(nse_server) == []

        code, out = cli(data_dir, nse_server, tmp_path, AT_1930, *args, "--now", str(epoch(AT_1930)),
                        smtp_port=smtp.port)
        assert code == 20, out[-2000:]  # [retcode] missing_data: late
        assert "NSEPublished" in out
        assert len(file_requests(nse_server)) == 2
        assert smtp.messages == []

        code, out = cli(data_dir, nse_server, tmp_path, NEXT_DAY, *args, "--now", str(epoch(NEXT_DAY)),
                        smtp_port=smtp.port)
        assert code == 30, out[-2000:]  # [retcode] task_failed: past the grace window
        assert "no bhavcopy published for 2026-12-02" in out
        assert "past its grace" in out  # the hook's note on the NoFileError
        subjects = [email.message_from_string(raw)["Subject"] for raw in smtp.messages]
        # the failure, and the scheduler's note that its attempts ([retries] download) are spent
        assert [s for s in subjects if "FAILED" in s] == ['Luigi: BhavcopyETL(date=2026-12-02, load_to_clickhouse=False, '
                                                          'datasets=["cm"]) FAILED. Host: ' + socket.gethostname()]
        sent = len(smtp.messages)
        assert not (data_dir / "raw").exists()

        publish_udiff(nse_server, DAY)  # NSE publishes at last: the next run completes the day
        code, out = cli(data_dir, nse_server, tmp_path, NEXT_DAY, *args, "--now", str(epoch(NEXT_DAY)),
                        smtp_port=smtp.port)
        assert code == 0, out[-2000:]
        assert layout.lake_path(data_dir, "cm", DAY).exists()
        assert len(smtp.messages) == sent


def test_the_next_evening_a_missing_known_session_fails_and_alerts(data_dir, nse_server, run_tasks, at, smtp):
    at(NEXT_DAY)
    assert run_tasks(etl()).status == LuigiStatusCode.FAILED
    raw, disabled = smtp.messages  # the run's alert, then the scheduler's note that it is not retried
    assert email.message_from_string(disabled)["Subject"].startswith("Luigi Scheduler: DISABLED BhavcopyETL")
    body = "".join(part.get_payload(decode=True).decode() for part in email.message_from_string(raw).walk()
                   if not part.is_multipart())
    assert "no bhavcopy published for 2026-12-02" in body


# ---- a guessed session: unknown, then recorded closed ----

GUESSED = date(2027, 1, 26)  # Republic Day, but no source covers 2027 here (no holiday list served)


def test_a_recent_guessed_day_without_a_file_is_unknown_exit_zero_and_asked_again(
        data_dir, nse_server, run_tasks, at, smtp, tmp_path, capsys):
    at("2027-01-27T12:00+05:30")
    assert run_tasks(etl(GUESSED)).status == LuigiStatusCode.SUCCESS
    asked = len(file_requests(nse_server))
    assert asked == 2
    assert not (data_dir / "raw").exists() and not (data_dir / "closed").exists()
    assert smtp.messages == []
    assert main(["status", "--start", "2027-01-26", "--stop", "2027-01-27", "--load-to-clickhouse", "false"]) == 0
    assert "unknown" in capsys.readouterr().out.splitlines()[0]

    code, out = cli(data_dir, nse_server, tmp_path, "2027-01-27T12:00+05:30", "BhavcopyETL", "--date", "2027-01-26",
                    "--load-to-clickhouse", "false")
    assert code == 0, out[-2000:]
    assert len(file_requests(nse_server)) == asked + 2  # nothing was kept: the next run asks again
    assert "2027-01-26 is unknown" in out


def test_a_guessed_day_long_after_is_recorded_closed_and_costs_nothing_again(
        data_dir, nse_server, run_tasks, at, capsys):
    day = date(1995, 1, 26)  # Republic Day 1995: no source knows 1995
    at("2026-12-02T19:30+05:30")
    assert run_tasks(BhavcopyETL(date=day)).status == LuigiStatusCode.SUCCESS
    record = json.loads(layout.closed_path(data_dir, "cm", day).read_text())
    assert record["date"] == "1995-01-26" and "only guesses" in record["reason"]
    assert record["recorded_at"] == "2026-12-02T19:30:00+05:30"
    assert [r["answer"] for r in record["routes_tried"]][:2] == ["HTTP 404", "HTTP 404"]
    assert any("JSON" in r["answer"] for r in record["routes_tried"])  # the reports API said "no data"
    assert not (data_dir / "raw").exists() and not (data_dir / "lake").exists() and not (data_dir / "loaded").exists()

    nse_server.requests.clear()
    at("2026-12-02T21:00+05:30")
    assert BhavcopyETL(date=day).complete()
    assert run_tasks(BhavcopyETL(date=day)).status == LuigiStatusCode.SUCCESS
    assert file_requests(nse_server) == []
    assert BhavcopyETL.bulk_complete.__func__(lambda **kw: BhavcopyETL(**kw), [day]) == [day]
    assert main(["status", "--start", "1995-01-26", "--stop", "1995-01-27"]) == 0
    line = capsys.readouterr().out.splitlines()[0]
    assert line.startswith("1995-01-26  cm       closed    (recorded 2026-12-02T19:30:00+05:30: no file at any route")

    layout.closed_path(data_dir, "cm", day).unlink()  # deleting the record asks NSE again
    at("2026-12-02T21:30+05:30")
    assert not BhavcopyETL(date=day).complete()
    assert len(file_requests(nse_server)) == 3  # both archive routes and the reports API


# ---- backfills across every era boundary ----

def test_a_backfill_across_2005_runs_whole(data_dir, nse_server, run_tasks):
    days = [date(2004, 12, 30), date(2004, 12, 31), date(2005, 1, 3)]
    for day in days:
        publish_legacy(nse_server, day)
    assert run_tasks(backfill(date(2004, 12, 29), date(2005, 1, 4))).status == LuigiStatusCode.FAILED  # 12-29 lacks
    assert sorted(layout.lake_dates(data_dir, "cm")) == days
    publish_legacy(nse_server, date(2004, 12, 29))
    assert run_tasks(backfill(date(2004, 12, 29), date(2005, 1, 4))).status == LuigiStatusCode.SUCCESS
    assert sorted(layout.lake_dates(data_dir, "cm")) == [date(2004, 12, 29), *days]


def test_a_backfill_across_1997_guesses_before_and_knows_after(data_dir, nse_server, run_tasks):
    for day in (date(1996, 12, 30), date(1997, 1, 1), date(1997, 1, 2)):
        publish_legacy(nse_server, day)  # 1996-12-31 has no file: a guessed session, long due
    assert run_tasks(backfill(date(1996, 12, 28), date(1997, 1, 3))).status == LuigiStatusCode.SUCCESS
    assert sorted(layout.lake_dates(data_dir, "cm")) == [date(1996, 12, 30), date(1997, 1, 1), date(1997, 1, 2)]
    assert sorted(p.name for p in (data_dir / "closed" / "cm").iterdir()) == ["1996-12-31.json"]

    nse_server.requests.clear()
    assert run_tasks(backfill(date(1996, 12, 28), date(1997, 1, 3))).status == LuigiStatusCode.SUCCESS
    assert file_requests(nse_server) == []


def test_a_backfill_from_nses_first_day_runs_without_refusal(data_dir, nse_server, run_tasks):
    for day in (date(1994, 11, 3), date(1994, 11, 4)):
        publish_legacy(nse_server, day)
    result = run_tasks(RangeDaily(of=BhavcopyETL, start=date(1994, 10, 31), stop=date(1994, 11, 5),
                                  of_params={"load_to_clickhouse": False, "datasets": ["cm", "fo"]}))
    assert result.status == LuigiStatusCode.SUCCESS
    assert sorted(layout.lake_dates(data_dir, "cm")) == [date(1994, 11, 3), date(1994, 11, 4)]
    assert not (data_dir / "raw" / "fo").exists()  # F&O starts 2000-06-12: nothing to ask for
    assert not any("/DERIVATIVES/" in p or "/content/fo/" in p for p in nse_server.paths_requested())
    assert not any("1994/OCT" in p or "19941031" in p or "19941101" in p for p in nse_server.paths_requested())


def test_nse_unreachable_in_the_evening_is_one_line_not_a_traceback(data_dir, tmp_path):
    """At 19:30 the day's file is asked for while scheduling (is it late?). With NSE unreachable that
    answer is unknown: the day's download runs and fails with its one-line network error (exit 30),
    not a traceback out of complete() and Luigi's "failed scheduling"."""
    from tests.support import free_port

    nowhere = type("Unreachable", (), {"url": f"http://127.0.0.1:{free_port()}"})()
    code, out = cli(data_dir, nowhere, tmp_path, AT_1930, "BhavcopyETL", "--date", DAY.isoformat(),
                    "--load-to-clickhouse", "false")
    assert code == 30, out[-2000:]
    assert "Traceback" not in out and "failed scheduling" not in out, out[-3000:]
    assert f"{DAY} http://127.0.0.1:" in out and "cannot reach 127.0.0.1:" in out
    assert not (data_dir / "raw").exists() and not (data_dir / "closed").exists()
