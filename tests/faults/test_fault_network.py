"""Network faults, through Luigi: a failed download keeps nothing, and the next run completes the day.

Each test runs `BhavcopyETL` (lake and the real embedded ClickHouse) against the local NSE
archive, asserts that the failed run left no file at all under DATA_DIR, then lets the server
recover and asserts that the next run leaves exactly the source's rows in the lake and ClickHouse.
"""
import socket
import threading
import time
from datetime import date

import pytest
from luigi.execution_summary import LuigiStatusCode

from luigi_tasks import source
from luigi_tasks.errors import BhavcopyError
from luigi_tasks.tasks import BhavcopyETL, DownloadBhavcopy

from tests.support import DATA
from tests.faults.fault_helpers import (
    DAY, FILE, LEGACY_FALLBACK, assert_day_complete, assert_nothing_kept, csv_text, luigi_failures,
    make_zip, no_mlflow,
)
from tests.nse_server import Fault

pytestmark = pytest.mark.usefixtures("no_mlflow")

URL_PATH = f"/content/cm/{FILE}"


def run_day(run_tasks, day=DAY):
    """One run of the day; returns Luigi's status and the failed stages' (family, message)."""
    with luigi_failures() as failed:
        result = run_tasks(BhavcopyETL(date=day))
    return result.status, [(family, str(exc)) for family, exc in failed]


def test_timeout_then_next_run_completes(data_dir, nse_server, run_tasks, luigi_config):
    luigi_config("nse", "read_timeout", "0.3")
    luigi_config("nse", "http_retries", "1")
    nse_server.fault(FILE, Fault(delay=1.0))

    status, failed = run_day(run_tasks)
    assert status == LuigiStatusCode.FAILED
    ((stage, message),) = failed
    assert stage == "DownloadBhavcopy"
    assert message.startswith(f"2025-06-18 {nse_server.url}{URL_PATH}: request failed after retries")
    assert "timed out" in message.lower()
    assert nse_server.paths_requested().count(URL_PATH) == 2  # the request and one urllib3 retry
    assert_nothing_kept(data_dir)

    nse_server.faults.clear()
    status, failed = run_day(run_tasks)
    assert (status, failed) == (LuigiStatusCode.SUCCESS, [])
    assert_day_complete(data_dir)


def test_reset_mid_body_then_next_run_completes(data_dir, nse_server, run_tasks):
    nse_server.fault(FILE, Fault(cut_after=50_000))  # 50 kB of 168 kB, then the connection drops

    status, failed = run_day(run_tasks)
    assert status == LuigiStatusCode.FAILED
    ((stage, message),) = failed
    assert stage == "DownloadBhavcopy"
    assert message.startswith(f"2025-06-18 {nse_server.url}{URL_PATH}: connection failed while reading the body")
    assert_nothing_kept(data_dir)

    nse_server.faults.clear()
    assert run_day(run_tasks) == (LuigiStatusCode.SUCCESS, [])
    assert_day_complete(data_dir)


@pytest.mark.parametrize("status, headers", [(429, {"Retry-After": "0"}), (503, {})], ids=["429", "503"])
def test_busy_then_success(data_dir, nse_server, run_tasks, luigi_config, status, headers):
    """Three busy answers, one urllib3 retry per run: the first run fails and keeps nothing, the
    second gets a busy answer, retries and completes."""
    luigi_config("nse", "http_retries", "1")
    nse_server.fault(FILE, Fault(status=status, body=b"busy", content_type="text/plain", times=3, headers=headers))

    run_status, failed = run_day(run_tasks)
    assert run_status == LuigiStatusCode.FAILED
    ((stage, message),) = failed
    assert stage == "DownloadBhavcopy"
    # the other route is tried too, and the message names it
    assert message == (f"2025-06-18 {nse_server.url}{URL_PATH}: HTTP {status} after retries; also tried "
                       f"{nse_server.url}/content/historical/EQUITIES/2025/JUN/cm18JUN2025bhav.csv.zip (HTTP 404)")
    assert_nothing_kept(data_dir)

    assert run_day(run_tasks) == (LuigiStatusCode.SUCCESS, [])
    assert nse_server.paths_requested().count(URL_PATH) == 4
    assert_day_complete(data_dir)


def test_html_200_then_next_run_completes(data_dir, nse_server, run_tasks):
    html = Fault(body=b"<!DOCTYPE html><html><body>Site under maintenance</body></html>", content_type="text/html")
    nse_server.fault(FILE, html)
    nse_server.fault(LEGACY_FALLBACK, html)

    status, failed = run_day(run_tasks)
    assert status == LuigiStatusCode.FAILED
    ((stage, message),) = failed
    assert stage == "DownloadBhavcopy"
    assert message.startswith(f"no bhavcopy published for 2025-06-18 at {nse_server.url}{URL_PATH} "
                              "(HTTP 200 with an HTML page)")
    assert_nothing_kept(data_dir)

    nse_server.faults.clear()
    assert run_day(run_tasks) == (LuigiStatusCode.SUCCESS, [])
    assert_day_complete(data_dir)


def test_404_trading_day_then_published(data_dir, nse_server, run_tasks):
    late = date(2025, 6, 20)  # a Friday session: NSE has not published the file yet
    udiff = "BhavCopy_NSE_CM_0_0_0_20250620_F_0000.csv"

    status, failed = run_day(run_tasks, late)
    assert status == LuigiStatusCode.FAILED
    ((stage, message),) = failed
    assert stage == "DownloadBhavcopy"
    assert message.startswith(f"no bhavcopy published for 2025-06-20 at {nse_server.url}/content/cm/{udiff}.zip "
                              "(HTTP 404); also tried ")
    assert f"{nse_server.url}/content/historical/EQUITIES/2025/JUN/cm20JUN2025bhav.csv.zip (HTTP 404)" in message
    assert_nothing_kept(data_dir)

    nse_server.put(f"{udiff}.zip", make_zip(udiff, csv_text().replace("2025-06-18", "2025-06-20")))
    assert run_day(run_tasks, late) == (LuigiStatusCode.SUCCESS, [])
    assert_day_complete(data_dir, late)


def test_slow_server_bounded_by_read_timeout(data_dir, nse_server, run_tasks, luigi_config):
    luigi_config("nse", "read_timeout", "0.3")
    luigi_config("nse", "http_retries", "1")
    nse_server.fault(FILE, Fault(delay=5.0))  # answers after 5 s

    started = time.monotonic()
    status, failed = run_day(run_tasks)
    elapsed = time.monotonic() - started
    assert status == LuigiStatusCode.FAILED
    assert failed[0][0] == "DownloadBhavcopy" and "timed out" in failed[0][1].lower()
    assert elapsed < 2.0, f"two attempts of 0.3 s took {elapsed:.1f} s: not bounded by read_timeout"
    assert_nothing_kept(data_dir)

    nse_server.fault(FILE, Fault(delay=0.1))  # slow, but within the timeout: the file is taken
    assert run_day(run_tasks) == (LuigiStatusCode.SUCCESS, [])
    assert_day_complete(data_dir)


def test_trickling_body_bounded_by_deadline():
    """A server sending 100 bytes every 50 ms (never idle for read_timeout) must be cut off at the
    deadline; here the deadline is 0.3 s and the body would take 84 s. Tested on source.fetch, whose
    deadline is a parameter: DownloadBhavcopy always passes the default, 300 s."""
    body = (DATA / FILE).read_bytes()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    done = threading.Event()

    def trickle():
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/zip\r\n"
                               b"Content-Length: %d\r\n\r\n" % len(body))
            for start in range(0, len(body), 100):
                if done.wait(0.05):
                    return
                connection.sendall(body[start:start + 100])

    server = threading.Thread(target=trickle, daemon=True)
    server.start()
    outcome = {}

    def fetch():
        session = source.make_session("Mozilla/5.0 test", "https://www.nseindia.com/", 0, 0)
        routes = DownloadBhavcopy(date=DAY).spec.routes_for(DAY)
        try:
            source.fetch(session, f"http://127.0.0.1:{listener.getsockname()[1]}", routes, DAY, (1, 1), 10**8,
                         total_seconds=0.3)
        except BhavcopyError as exc:
            outcome["error"] = str(exc)

    client = threading.Thread(target=fetch, daemon=True)
    started = time.monotonic()
    client.start()
    client.join(1.3)
    bounded = not client.is_alive()
    elapsed = time.monotonic() - started
    done.set()  # the server hangs up; the fetch then ends on the broken connection
    client.join(5)
    server.join(5)
    listener.close()
    assert bounded, f"fetch with a 0.3 s deadline was still downloading after {elapsed:.1f} s"
    assert "within the time allowed" in outcome.get("error", "")
