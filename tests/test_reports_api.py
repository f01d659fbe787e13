"""Old days through NSE's reports API when the archive's legacy path answers 404 for every date."""
import csv
import io
import json
import zipfile
from datetime import date

import pyarrow.parquet as pq
import pytest
from luigi.execution_summary import LuigiStatusCode

from luigi_tasks import layout
from luigi_tasks.tasks import BhavcopyETL, DownloadBhavcopy

from tests.support import DATA
from tests.nse_server import Fault

DAY, FILE = date(2022, 12, 1), "cm01DEC2022bhav.csv.zip"


@pytest.fixture
def archive_gone(nse_server):
    nse_server.legacy_archive_gone = True
    return nse_server


def test_legacy_day_comes_through_the_reports_api_exactly(data_dir, archive_gone, run_tasks):
    assert run_tasks(BhavcopyETL(date=DAY)).status == LuigiStatusCode.SUCCESS
    requests = archive_gone.full_requests
    assert requests[0] == "GET /content/historical/EQUITIES/2022/DEC/cm01DEC2022bhav.csv.zip"
    assert requests[1] == "GET /content/cm/BhavCopy_NSE_CM_0_0_0_20221201_F_0000.csv.zip"
    assert requests[2] == "GET /"  # cookies first
    assert requests[3].startswith("GET /api/reports?archives=") and requests[3].endswith("[cookie]")
    assert "date=01-Dec-2022" in requests[3] and "type=equities" in requests[3] and "mode=single" in requests[3]
    assert "%22CM+-+Bhavcopy%28csv%29%22" in requests[3]  # the JSON is encoded by requests' params
    assert len(requests) == 4

    sidecar = json.loads(layout.raw_sidecar_path(data_dir, "cm", DAY).read_text())
    assert sidecar["route"] == "cm-reports-api" and sidecar["content"] == "zip"
    assert layout.raw_path(data_dir, "cm", DAY).read_bytes() == (DATA / FILE).read_bytes()
    with zipfile.ZipFile(DATA / FILE) as archive:
        expected = list(csv.DictReader(io.StringIO(archive.read(archive.namelist()[0]).decode())))
    rows = pq.read_table(layout.lake_path(data_dir, "cm", DAY)).to_pylist()
    assert len(rows) == len(expected) == 2339
    for want, row in zip(expected, rows):
        assert (row["symbol"], row["series"], row["isin"]) == (want["SYMBOL"], want["SERIES"], want["ISIN"])
        assert (row["close"], row["volume"], row["turnover"]) == (
            float(want["CLOSE"]), int(want["TOTTRDQTY"]), float(want["TOTTRDVAL"]))


def test_cookies_are_primed_once_per_session(data_dir, archive_gone, run_tasks):
    assert run_tasks(BhavcopyETL(date=DAY), BhavcopyETL(date=date(2022, 12, 2))).status == LuigiStatusCode.SUCCESS
    assert archive_gone.paths_requested().count("/") == 1
    assert archive_gone.paths_requested().count("/api/reports") == 2


def test_without_the_cookie_step_the_run_fails_clearly(data_dir, archive_gone, run_tasks):
    archive_gone.sets_cookie = False
    assert run_tasks(BhavcopyETL(date=DAY)).status == LuigiStatusCode.FAILED
    assert not layout.raw_path(data_dir, "cm", DAY).exists()
    with pytest.raises(Exception) as caught:
        DownloadBhavcopy(date=DAY).run()
    message = str(caught.value)
    assert message.startswith("no bhavcopy published for 2022-12-01 at")
    assert "/api/reports?archives=" in message
    assert "HTTP 403, refused by the reports API even with cookies from http://127.0.0.1" in message
    # priming happens at most once a minute, even across retries
    assert archive_gone.paths_requested().count("/") == 1


def test_json_no_data_is_no_file_and_never_a_holiday(data_dir, archive_gone, run_tasks):
    day = date(2022, 12, 5)  # a Monday session with no file anywhere
    assert run_tasks(BhavcopyETL(date=day)).status == LuigiStatusCode.FAILED
    with pytest.raises(Exception, match=r"HTTP 200 with a JSON answer"):
        DownloadBhavcopy(date=day).run()
    assert not layout.raw_path(data_dir, "cm", day).exists()


def test_a_200_that_is_neither_zip_nor_csv_names_the_route(data_dir, archive_gone, run_tasks):
    archive_gone.faults["/api/reports"] = Fault(body=b"\x00\x01binary garbage", content_type="application/octet-stream")
    with pytest.raises(Exception, match=r"route cm-reports-api answered 200 with neither a zip nor a CSV"):
        DownloadBhavcopy(date=DAY).run()
    assert not layout.raw_path(data_dir, "cm", DAY).exists()


def test_a_csv_answer_passes_the_same_checks(data_dir, archive_gone, run_tasks):
    with zipfile.ZipFile(DATA / FILE) as archive:
        text = archive.read(archive.namelist()[0])
    archive_gone.faults["/api/reports"] = Fault(body=text, content_type="text/csv")
    assert run_tasks(BhavcopyETL(date=DAY)).status == LuigiStatusCode.SUCCESS
    assert json.loads(layout.raw_sidecar_path(data_dir, "cm", DAY).read_text())["content"] == "csv"
    assert pq.ParquetFile(layout.lake_path(data_dir, "cm", DAY)).metadata.num_rows == 2339

    # and the wrong day's CSV is refused like the wrong day's zip
    archive_gone.faults["/api/reports"] = Fault(body=text, content_type="text/csv")
    with pytest.raises(Exception, match="wrong trade date inside the file: 2022-12-01"):
        DownloadBhavcopy(date=date(2022, 12, 2)).run()


def test_udiff_days_never_use_the_reports_api(data_dir, archive_gone, run_tasks):
    assert run_tasks(BhavcopyETL(date=date(2025, 6, 20))).status == LuigiStatusCode.FAILED
    assert "/api/reports" not in archive_gone.paths_requested()
