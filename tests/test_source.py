"""The archive source over real HTTP: routes, headers, no-file answers, retries and bounds."""
import os
import socket
import subprocess
import sys
import time
from datetime import date

import pytest

from luigi_tasks import source
from luigi_tasks.datasets import DATASETS
from luigi_tasks.errors import BhavcopyError, NetworkError, NoFileError

from tests.support import DATA
from tests.nse_server import Fault

UDIFF_DAY, UDIFF_FILE = date(2025, 6, 18), "BhavCopy_NSE_CM_0_0_0_20250618_F_0000.csv.zip"
LEGACY_DAY, LEGACY_FILE = date(2022, 12, 1), "cm01DEC2022bhav.csv.zip"
MAX = 50 * 1024 * 1024


def fetch(server, day, retries=2, timeout=(2, 2), total_seconds=300.0):
    session = source.make_session("Mozilla/5.0 test", "https://www.nseindia.com/", retries, 0)
    return source.fetch(session, server.url, DATASETS["cm"].routes_for(day), day, timeout, MAX, total_seconds)


def test_routes_follow_nse_layout_and_the_format_switch():
    assert [r.path(date(2024, 7, 8)) for r in DATASETS["cm"].routes_for(date(2024, 7, 8))] == [
        "/content/cm/BhavCopy_NSE_CM_0_0_0_20240708_F_0000.csv.zip",
        "/content/historical/EQUITIES/2024/JUL/cm08JUL2024bhav.csv.zip",
    ]
    assert [r.name for r in DATASETS["cm"].routes_for(date(2024, 7, 5))] == ["cm-legacy", "cm-udiff", "cm-reports-api"]
    assert [r.name for r in DATASETS["cm"].routes_for(date(2024, 7, 8))] == ["cm-udiff", "cm-legacy"]
    assert DATASETS["cm"].routes_for(date(2022, 12, 1))[0].member(date(2022, 12, 1)) == "cm01DEC2022bhav.csv"


@pytest.mark.parametrize("day, file_name", [(UDIFF_DAY, UDIFF_FILE), (LEGACY_DAY, LEGACY_FILE)])
def test_fetch_returns_the_bytes_served_and_sends_browser_headers(nse_server, day, file_name):
    fetched = fetch(nse_server, day)
    assert fetched.body == (DATA / file_name).read_bytes()
    assert fetched.member == file_name[: -len(".zip")]
    assert nse_server.requests[-1][1] == "Mozilla/5.0 test"


def test_404_on_every_route_names_the_date_url_and_status(nse_server):
    with pytest.raises(NoFileError) as caught:
        fetch(nse_server, date(2025, 6, 20))
    message = str(caught.value)
    assert message.startswith(
        f"no bhavcopy published for 2025-06-20 at {nse_server.url}/content/cm/BhavCopy_NSE_CM_0_0_0_20250620_F_0000.csv.zip (HTTP 404)"
    )
    assert "also tried" in message and "cm20JUN2025bhav.csv.zip (HTTP 404)" in message


def test_403_counts_as_no_file(nse_server):
    nse_server.fault(UDIFF_FILE, Fault(status=403, body=b"Access Denied", content_type="text/plain"))
    with pytest.raises(NoFileError, match=r"no bhavcopy published for 2025-06-18 at .* \(HTTP 403\)"):
        fetch(nse_server, UDIFF_DAY)


def test_200_with_html_page_counts_as_no_file(nse_server):
    nse_server.fault(UDIFF_FILE, Fault(body=b"<html><body>Resource not available</body></html>", content_type="text/html"))
    with pytest.raises(NoFileError, match=r"HTTP 200 with an HTML page"):
        fetch(nse_server, UDIFF_DAY)


def test_503_twice_then_success_is_retried_by_urllib3(nse_server):
    nse_server.fault(UDIFF_FILE, Fault(status=503, body=b"busy", content_type="text/plain", times=2))
    fetched = fetch(nse_server, UDIFF_DAY, retries=3)
    assert fetched.body == (DATA / UDIFF_FILE).read_bytes()
    assert nse_server.paths_requested().count(f"/content/cm/{UDIFF_FILE}") == 3


def test_429_with_retry_after_is_retried(nse_server):
    nse_server.fault(UDIFF_FILE, Fault(status=429, body=b"slow down", content_type="text/plain", times=1,
                                       headers={"Retry-After": "0"}))
    assert fetch(nse_server, UDIFF_DAY).body == (DATA / UDIFF_FILE).read_bytes()


def test_persistent_503_is_an_error_not_a_missing_file(nse_server):
    nse_server.fault(UDIFF_FILE, Fault(status=503, body=b"busy", content_type="text/plain"))
    with pytest.raises(BhavcopyError, match=r"2025-06-18 .*BhavCopy.*HTTP 503 after retries") as caught:
        fetch(nse_server, UDIFF_DAY, retries=1)
    assert not isinstance(caught.value, NoFileError)


def test_slow_server_is_bounded_by_the_read_timeout(nse_server):
    nse_server.fault(UDIFF_FILE, Fault(delay=3))
    started = time.monotonic()
    with pytest.raises(BhavcopyError, match="2025-06-18"):
        fetch(nse_server, UDIFF_DAY, retries=0, timeout=(1, 0.5))
    assert time.monotonic() - started < 2.5


def test_connection_reset_mid_body_is_an_error(nse_server):
    nse_server.fault(UDIFF_FILE, Fault(cut_after=1000))
    with pytest.raises(BhavcopyError, match=r"2025-06-18 .*connection failed while reading the body"):
        fetch(nse_server, UDIFF_DAY, retries=0)


def test_closed_port_is_a_clear_error():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    session = source.make_session("ua", "ref", 0, 0)
    with pytest.raises(BhavcopyError, match=r"2025-06-18 http://127.0.0.1:\d+/content/cm/.*request failed"):
        source.fetch(session, f"http://127.0.0.1:{port}", DATASETS["cm"].routes_for(UDIFF_DAY), UDIFF_DAY, (1, 1), MAX)


def test_redirect_to_another_host_is_refused(nse_server):
    nse_server.fault(UDIFF_FILE, Fault(status=302, body=b"", content_type="text/plain",
                                       headers={"Location": "http://evil.example/x.zip"}))
    with pytest.raises(BhavcopyError, match="only 127.0.0.1"):
        fetch(nse_server, UDIFF_DAY)
    assert all(path.startswith("/content/") for path in nse_server.paths_requested())


def test_a_zip_served_as_text_html_is_a_zip(nse_server):
    """Decided by the bytes: the zip magic wins over a wrong Content-Type."""
    nse_server.fault(UDIFF_FILE, Fault(body=(DATA / UDIFF_FILE).read_bytes(), content_type="text/html"))
    assert fetch(nse_server, UDIFF_DAY).body == (DATA / UDIFF_FILE).read_bytes()


BOUNDARY_DAY = date(2024, 7, 5)  # NSE served this day in both layouts; the legacy route is tried first
BOUNDARY_UDIFF = "BhavCopy_NSE_CM_0_0_0_20240705_F_0000.csv.zip"


@pytest.mark.parametrize("fault", [
    Fault(status=503, body=b"busy", content_type="text/plain"),
    Fault(status=500, body=b"error", content_type="text/plain"),
    Fault(status=302, body=b"", content_type="text/plain", headers={"Location": "/maintenance.html"}),
    Fault(status=301, body=b"", content_type="text/plain", headers={"Location": "http://evil.example/x.zip"}),
], ids=["503", "500", "redirect", "redirect-to-another-host"])
def test_at_the_format_boundary_a_failing_route_does_not_stop_the_other(nse_server, fault):
    nse_server.put(BOUNDARY_UDIFF, b"PK\x03\x04 the udiff zip")
    nse_server.fault("cm05JUL2024bhav.csv.zip", fault)
    fetched = fetch(nse_server, BOUNDARY_DAY, retries=1)
    assert (fetched.route, fetched.body) == ("cm-udiff", b"PK\x03\x04 the udiff zip")
    assert nse_server.paths_requested()[0] == "/content/historical/EQUITIES/2024/JUL/cm05JUL2024bhav.csv.zip"


def test_when_no_route_serves_the_error_lists_every_route_tried(nse_server):
    nse_server.fault("cm05JUL2024bhav.csv.zip", Fault(status=503, body=b"busy", content_type="text/plain"))
    with pytest.raises(BhavcopyError) as caught:
        fetch(nse_server, BOUNDARY_DAY, retries=0)
    assert not isinstance(caught.value, NoFileError)
    assert str(caught.value) == (
        f"2024-07-05 {nse_server.url}/content/historical/EQUITIES/2024/JUL/cm05JUL2024bhav.csv.zip: HTTP 503 after "
        f"retries; also tried {nse_server.url}/content/cm/{BOUNDARY_UDIFF} (HTTP 404)")


# ---- a host that does not answer: one line naming the date, every route and why ----

def closed_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def test_archive_404_then_cookie_priming_refused_lists_every_route(nse_server):
    day = date(2022, 12, 5)  # a session the emulator has no file for: the archive answers 404
    web = closed_port()
    session = source.make_session("Mozilla/5.0 test", "https://www.nseindia.com/", 0, 0)
    with pytest.raises(NetworkError) as caught:
        source.fetch(session, nse_server.url, DATASETS["cm"].routes_for(day), day, (1, 1), MAX,
                     site=source.WebSite(web, 0))
    host = web.split("//", 1)[1]
    legacy, udiff, api = (route.path(day) for route in DATASETS["cm"].routes_for(day))
    assert str(caught.value) == (
        f"2022-12-05 {web}/: request failed after retries: cannot reach {host}: connection refused; routes tried: "
        f"{nse_server.url}{legacy} (HTTP 404), {nse_server.url}{udiff} (HTTP 404), "
        f"{web}{api} (cannot reach {host}: connection refused, at {web}/ for cookies)")


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def luigi_etl(tmp_path, archive: str, web: str, *options: str) -> subprocess.CompletedProcess:
    """`luigi BhavcopyETL` for the legacy day as an operator runs it, at Luigi's default log level."""
    (tmp_path / "luigi.cfg").write_text("[worker]\nkeep_alive = false\n[nse]\nhttp_retries = 1\nbackoff_factor = 0\n")
    env = {name: value for name, value in os.environ.items() if not name.startswith(("LUIGI_", "NSE_", "MLFLOW_"))}
    env.update(DATA_DIR=str(tmp_path / "data"), NSE_BASE_URL=archive, NSE_WEB_URL=web, MLFLOW_ENABLED="false",
               LUIGI_CONFIG_PATH=str(tmp_path / "luigi.cfg"))
    return subprocess.run([sys.executable, "-m", "luigi", "--module", "luigi_tasks", "BhavcopyETL", "--date",
                           LEGACY_DAY.isoformat(), "--datasets", '["cm"]', "--local-scheduler", *options],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("hosts, cause", [((closed_port(), closed_port()), "connection refused"),
                                          (("http://nse.invalid", "http://www.nse.invalid"), "name resolution failed")],
                         ids=["closed-port", "unresolvable"])
def test_no_network_is_one_line_naming_the_date_and_every_route(tmp_path, hosts, cause):
    archive, web = hosts
    run = luigi_etl(tmp_path, archive, web)
    output = run.stdout + run.stderr
    assert run.returncode == 30, output[-3000:]
    assert "Traceback" not in output
    (line,) = [line for line in output.splitlines() if line.startswith("ERROR:")]
    assert line.endswith('failed    BhavcopyETL(date=2022-12-01, load_to_clickhouse=True, datasets=["cm"]): '
                         "1 of 1 stage chains not done: DownloadBhavcopy(date=2022-12-01, dataset=cm): 2022-12-01 "
                         f"{archive}/content/historical/EQUITIES/2022/DEC/cm01DEC2022bhav.csv.zip: request failed "
                         f"after retries: cannot reach {archive.split('//')[1]}: {cause}; routes tried: "
                         f"{archive}/content/historical/EQUITIES/2022/DEC/cm01DEC2022bhav.csv.zip "
                         f"(cannot reach {archive.split('//')[1]}: {cause}), "
                         f"{archive}/content/cm/BhavCopy_NSE_CM_0_0_0_20221201_F_0000.csv.zip "
                         f"(not tried: cannot reach {archive.split('//')[1]}: {cause}), "
                         f"{web}/api/reports (cannot reach {web.split('//')[1]}: {cause}, at {web}/ for cookies)"), line
    assert not (tmp_path / "data").exists() or [p for p in (tmp_path / "data").rglob("*") if p.is_file()] == []

    debug = luigi_etl(tmp_path, archive, web, "--log-level", "DEBUG")  # where the traceback went
    assert "Traceback" in debug.stderr and "requests.exceptions.ConnectionError" in debug.stderr
