"""End to end through Luigi: a real HTTP download from the local NSE server to the Parquet lake."""
import csv
import io
import json
import os
from datetime import date

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from luigi.execution_summary import LuigiStatusCode

from luigi_tasks import layout
from luigi_tasks.lake import open_lake, read_stage
from luigi_tasks.tasks import BhavcopyETL, DownloadBhavcopy, NormalizeBhavcopy, ParseBhavcopy, WriteParquet

from tests.faults.fault_helpers import luigi_failures
from tests.support import DATA
from tests.nse_server import member_text, zip_bytes

LEGACY_DAY, LEGACY_FILE = date(2022, 12, 1), "cm01DEC2022bhav.csv.zip"
UDIFF_DAY, UDIFF_FILE = date(2025, 6, 18), "BhavCopy_NSE_CM_0_0_0_20250618_F_0000.csv.zip"

LEGACY_COLUMNS = {
    "symbol": "SYMBOL", "series": "SERIES", "isin": "ISIN", "open": "OPEN", "high": "HIGH", "low": "LOW",
    "close": "CLOSE", "last": "LAST", "prev_close": "PREVCLOSE", "volume": "TOTTRDQTY",
    "turnover": "TOTTRDVAL", "trades": "TOTALTRADES",
}
UDIFF_COLUMNS = {
    "symbol": "TckrSymb", "series": "SctySrs", "isin": "ISIN", "open": "OpnPric", "high": "HghPric",
    "low": "LwPric", "close": "ClsPric", "last": "LastPric", "prev_close": "PrvsClsgPric",
    "volume": "TtlTradgVol", "turnover": "TtlTrfVal", "trades": "TtlNbOfTxsExctd",
}
INTEGERS = {"volume", "trades"}
TEXTS = {"symbol", "series", "isin"}


def source_rows(file_name, columns):
    """The fixture CSV read with the standard library: an independent view of what NSE sent."""
    text = member_text(DATA / file_name)
    rows = []
    for record in csv.DictReader(io.StringIO(text)):
        row = {}
        for name, column in columns.items():
            value = record[column].strip()
            if name in TEXTS:
                row[name] = value or None
            elif name in INTEGERS:
                row[name] = int(value)
            else:
                row[name] = float(value)
        rows.append(row)
    return rows


def lake_rows(root, day):
    table = pq.read_table(layout.lake_path(root, "cm", day))
    return table.to_pylist()


@pytest.mark.parametrize(
    "day, file_name, columns, fmt",
    [(LEGACY_DAY, LEGACY_FILE, LEGACY_COLUMNS, "legacy"), (UDIFF_DAY, UDIFF_FILE, UDIFF_COLUMNS, "udiff")],
)
def test_day_end_to_end_matches_source_row_by_row(data_dir, nse_server, run_tasks, day, file_name, columns, fmt):
    result = run_tasks(BhavcopyETL(date=day))
    assert result.status == LuigiStatusCode.SUCCESS

    expected = source_rows(file_name, columns)
    got = lake_rows(data_dir, day)
    assert len(got) == len(expected) > 2000
    for want, row in zip(expected, got):
        assert {name: row[name] for name in columns} == want
        assert row["trade_date"] == day
        assert row["source_format"] == fmt
    # every stage left its target, and the raw zip is byte for byte what was served
    assert (data_dir / "raw" / "cm" / f"{day}.zip").read_bytes() == (DATA / file_name).read_bytes()
    for path in (layout.staging_path, layout.normalized_path, layout.rejects_path):
        assert path(data_dir, "cm", day).exists()
    assert read_stage(layout.rejects_path(data_dir, "cm", day)).num_rows == 0


@pytest.mark.parametrize("day, rows", [(date(2022, 12, 1), 2339), (date(2022, 12, 2), 2338),
                                       (date(2025, 6, 18), 2993), (date(2025, 6, 19), 2986)])
def test_real_nse_files_give_zero_rejects(data_dir, nse_server, run_tasks, day, rows):
    assert run_tasks(BhavcopyETL(date=day, load_to_clickhouse=False)).status == LuigiStatusCode.SUCCESS
    assert read_stage(layout.rejects_path(data_dir, "cm", day)).num_rows == 0
    assert pq.ParquetFile(layout.lake_path(data_dir, "cm", day)).metadata.num_rows == rows


def test_lake_reads_back_with_hive_partitioning(data_dir, nse_server, run_tasks):
    assert run_tasks(BhavcopyETL(date=LEGACY_DAY), BhavcopyETL(date=UDIFF_DAY)).status == LuigiStatusCode.SUCCESS
    lake = open_lake(layout.lake_root(data_dir, "cm"))
    table = lake.to_table()
    assert table.num_rows == 2339 + 2993
    june = lake.to_table(filter=(ds.field("year") == 2025) & (ds.field("month") == 6) & (ds.field("day") == 18))
    assert june.num_rows == 2993
    assert set(june["trade_date"].to_pylist()) == {UDIFF_DAY}
    assert (data_dir / "lake/cm_bhavcopy/year=2025/month=6/day=18").is_dir()
    # the same files read with pandas, hive partitions and all
    import pandas as pd

    frame = pd.read_parquet(data_dir / "lake" / "cm_bhavcopy")
    assert len(frame) == 2339 + 2993


def test_second_run_does_nothing(data_dir, nse_server, run_tasks):
    assert run_tasks(BhavcopyETL(date=UDIFF_DAY)).status == LuigiStatusCode.SUCCESS
    stamps = {p: p.stat().st_mtime_ns for p in data_dir.rglob("*") if p.is_file()}
    requests_before = len(nse_server.requests)

    result = run_tasks(BhavcopyETL(date=UDIFF_DAY))
    assert result.status == LuigiStatusCode.SUCCESS
    assert result.scheduling_succeeded
    assert len(nse_server.requests) == requests_before
    assert {p: p.stat().st_mtime_ns for p in data_dir.rglob("*") if p.is_file()} == stamps


def test_deleting_the_lake_file_reruns_write_parquet_alone(data_dir, nse_server, run_tasks):
    assert run_tasks(BhavcopyETL(date=UDIFF_DAY)).status == LuigiStatusCode.SUCCESS
    lake_file = layout.lake_path(data_dir, "cm", UDIFF_DAY)
    upstream = [layout.raw_path, layout.staging_path, layout.normalized_path]
    stamps = {p: p(data_dir, "cm", UDIFF_DAY).stat().st_mtime_ns for p in upstream}
    rows = pq.read_table(lake_file).num_rows
    lake_file.unlink()
    requests_before = len(nse_server.requests)

    result = run_tasks(BhavcopyETL(date=UDIFF_DAY))
    assert result.status == LuigiStatusCode.SUCCESS
    assert pq.read_table(lake_file).num_rows == rows
    assert len(nse_server.requests) == requests_before
    assert {p: p(data_dir, "cm", UDIFF_DAY).stat().st_mtime_ns for p in upstream} == stamps


def test_the_parse_takes_the_layout_the_download_found_from_its_sidecar(data_dir, nse_server, run_tasks):
    """The sidecar carries the format: a raw file whose sidecar names another layout is refused."""
    assert run_tasks(BhavcopyETL(date=UDIFF_DAY)).status == LuigiStatusCode.SUCCESS
    sidecar_path = layout.raw_sidecar_path(data_dir, "cm", UDIFF_DAY)
    sidecar = json.loads(sidecar_path.read_text())
    assert sidecar["format"] == "udiff"
    assert read_stage(layout.staging_path(data_dir, "cm", UDIFF_DAY)).schema.metadata[b"source_format"] == b"udiff"
    lake_bytes = layout.lake_path(data_dir, "cm", UDIFF_DAY).read_bytes()
    sidecar_path.write_text(json.dumps({**sidecar, "format": "legacy"}))
    layout.staging_path(data_dir, "cm", UDIFF_DAY).unlink()

    with luigi_failures() as failed:
        assert run_tasks(BhavcopyETL(date=UDIFF_DAY)).status == LuigiStatusCode.FAILED
    ((family, error),) = failed
    assert family == "ParseBhavcopy"
    assert str(error).startswith(f"2025-06-18 {UDIFF_FILE[:-len('.zip')]}"), error
    assert layout.lake_path(data_dir, "cm", UDIFF_DAY).read_bytes() == lake_bytes  # the lake is untouched


def test_a_download_that_meets_the_same_file_kept_by_another_run_leaves_the_day_done(data_dir, nse_server,
                                                                                     run_tasks):
    """Two runs of a day fetch at once; the one that finishes second finds the same bytes kept and
    marks nothing to redo (its work() runs here after the other run's whole chain)."""
    assert run_tasks(BhavcopyETL(date=UDIFF_DAY)).status == LuigiStatusCode.SUCCESS
    records = [layout.raw_sidecar_path, layout.loaded_marker_path]
    before = {p: p(data_dir, "cm", UDIFF_DAY).read_bytes() for p in records}
    DownloadBhavcopy(date=UDIFF_DAY).work()  # past the run() guard, as when both runs started before either ended
    assert {p: p(data_dir, "cm", UDIFF_DAY).read_bytes() for p in records} == before
    assert BhavcopyETL(date=UDIFF_DAY).complete()


def test_udiff_date_falls_back_to_legacy_route_on_404(data_dir, nse_server, run_tasks):
    """NSE served some days around the switch in the other layout: the second route is tried."""
    day = date(2024, 7, 5)
    legacy_name = "cm05JUL2024bhav.csv.zip"
    body = redate_legacy_zip((DATA / LEGACY_FILE).read_bytes(), day)
    nse_server.put(legacy_name, body)
    # 2024-07-05 is before the switch, so legacy goes first; check the reverse case too
    udiff_day = date(2024, 7, 8)
    nse_server.put("cm08JUL2024bhav.csv.zip", redate_legacy_zip((DATA / LEGACY_FILE).read_bytes(), udiff_day))

    assert run_tasks(BhavcopyETL(date=day), BhavcopyETL(date=udiff_day)).status == LuigiStatusCode.SUCCESS
    paths = nse_server.paths_requested()
    assert "/content/cm/BhavCopy_NSE_CM_0_0_0_20240708_F_0000.csv.zip" in paths
    assert paths.index("/content/cm/BhavCopy_NSE_CM_0_0_0_20240708_F_0000.csv.zip") < paths.index(
        "/content/historical/EQUITIES/2024/JUL/cm08JUL2024bhav.csv.zip"
    )
    assert "/content/cm/BhavCopy_NSE_CM_0_0_0_20240705_F_0000.csv.zip" not in paths
    assert pq.read_table(layout.lake_path(data_dir, "cm", udiff_day)).num_rows == 2339


def redate_legacy_zip(body: bytes, day: date) -> bytes:
    """A legacy fixture re-dated to `day`, under NSE's member name for that day."""
    text = member_text(io.BytesIO(body)).replace("01-DEC-2022", day.strftime("%d-%b-%Y").upper())
    member = f"cm{day:%d}{day.strftime('%b').upper()}{day:%Y}bhav.csv"
    return zip_bytes({member: text})


def test_stage_targets_are_written_atomically_no_temp_left(data_dir, nse_server, run_tasks):
    assert run_tasks(BhavcopyETL(date=LEGACY_DAY)).status == LuigiStatusCode.SUCCESS
    leftovers = [p for p in data_dir.rglob("*") if "tmp" in p.name]
    assert leftovers == []


def test_stage_tasks_share_one_path_layout(data_dir):
    task = WriteParquet(date=UDIFF_DAY)
    assert task.output().path == os.fspath(data_dir / "lake/cm_bhavcopy/year=2025/month=6/day=18/cm_bhavcopy-2025-06-18.parquet")
    assert DownloadBhavcopy(date=UDIFF_DAY).output().path == os.fspath(data_dir / "raw/cm/2025-06-18.zip")
    assert ParseBhavcopy(date=UDIFF_DAY).output().path.endswith("staging/cm/2025-06-18.arrow")
    assert NormalizeBhavcopy(date=UDIFF_DAY).output()["rejects"].path.endswith("rejects/cm/2025-06-18.arrow")


# ---- bad input: a clear error naming date, file and problem, and no target written ----

def repack(member: str, text: str | bytes, extra: dict | None = None) -> bytes:
    return zip_bytes({member: text, **(extra or {})})


def fixture_text(file_name: str) -> str:
    return member_text(DATA / file_name)


UDIFF_MEMBER = UDIFF_FILE[: -len(".zip")]


def assert_download_fails(data_dir, run_tasks, day, message):
    """The stage fails through Luigi, leaves no file of its own, and says why when run directly."""
    result = run_tasks(BhavcopyETL(date=day))
    assert result.status == LuigiStatusCode.FAILED
    assert not (data_dir / "raw").exists() or list((data_dir / "raw").rglob("*")) == [data_dir / "raw" / "cm"]
    assert not (data_dir / "lake").exists()
    with pytest.raises(Exception, match=message):
        DownloadBhavcopy(date=day).run()
    assert not layout.raw_path(data_dir, "cm", day).exists()


def test_html_page_with_200_fails_without_target(data_dir, nse_server, run_tasks):
    from tests.nse_server import Fault

    html = Fault(body=b"<!DOCTYPE html><html>maintenance</html>", content_type="text/html")
    nse_server.fault(UDIFF_FILE, html)
    nse_server.fault("cm18JUN2025bhav.csv.zip", html)
    assert_download_fails(data_dir, run_tasks, UDIFF_DAY, r"no bhavcopy published for 2025-06-18 at .* \(HTTP 200 with an HTML page\)")


def test_404_fails_with_no_bhavcopy_message(data_dir, nse_server, run_tasks):
    assert_download_fails(data_dir, run_tasks, date(2025, 6, 20), r"no bhavcopy published for 2025-06-20 at http://127\.0\.0\.1:\d+/content/cm/BhavCopy_NSE_CM_0_0_0_20250620_F_0000\.csv\.zip \(HTTP 404\)")


def test_403_fails_with_no_bhavcopy_message(data_dir, nse_server, run_tasks):
    from tests.nse_server import Fault

    nse_server.fault(UDIFF_FILE, Fault(status=403, body=b"denied", content_type="text/plain"))
    assert_download_fails(data_dir, run_tasks, UDIFF_DAY, r"no bhavcopy published for 2025-06-18 at .*\(HTTP 403\)")


def test_truncated_zip_fails_without_target(data_dir, nse_server, run_tasks):
    body = (DATA / UDIFF_FILE).read_bytes()
    nse_server.put(UDIFF_FILE, body[:50_000])
    assert_download_fails(data_dir, run_tasks, UDIFF_DAY, r"2025-06-18 http://.*BhavCopy_NSE_CM_0_0_0_20250618_F_0000\.csv\.zip: not a readable zip")


def test_zip_with_two_members_fails(data_dir, nse_server, run_tasks):
    nse_server.put(UDIFF_FILE, repack(UDIFF_MEMBER, fixture_text(UDIFF_FILE), {"notes.txt": "x"}))
    assert_download_fails(data_dir, run_tasks, UDIFF_DAY, "exactly one CSV member, found 2")


def test_wrong_date_inside_fails(data_dir, nse_server, run_tasks):
    """The 19th's content under the 18th's name: what NSE did on a holiday with the delivery file."""
    nse_server.put(UDIFF_FILE, repack(UDIFF_MEMBER, fixture_text("BhavCopy_NSE_CM_0_0_0_20250619_F_0000.csv.zip")))
    assert_download_fails(data_dir, run_tasks, UDIFF_DAY,
                          r"^2025-06-18 BhavCopy_NSE_CM_0_0_0_20250618_F_0000\.csv: wrong trade date inside the file: 2025-06-19")


def test_unknown_header_fails(data_dir, nse_server, run_tasks):
    text = fixture_text(UDIFF_FILE).replace("TckrSymb", "Ticker", 1)
    nse_server.put(UDIFF_FILE, repack(UDIFF_MEMBER, text))
    assert_download_fails(data_dir, run_tasks, UDIFF_DAY, r"2025-06-18 BhavCopy_NSE_CM_0_0_0_20250618_F_0000\.csv: unknown header")


def test_bad_rows_land_in_rejects_and_nothing_is_lost(data_dir, nse_server, run_tasks):
    lines = fixture_text(UDIFF_FILE).splitlines(keepends=True)
    header, rows = lines[0], lines[1:]
    fields = [line.split(",") for line in rows[:4]]
    fields[0][7] = ""  # TckrSymb: missing symbol
    fields[1][24] = "-5"  # TtlTradgVol: negative volume
    fields[2][15], fields[2][16] = "1.00", "2.00"  # HghPric < LwPric
    duplicate = ",".join(fields[3])
    bad = [",".join(f) for f in fields[:3]]
    text = header + "".join(bad) + "".join(rows[3:]) + duplicate
    nse_server.put(UDIFF_FILE, repack(UDIFF_MEMBER, text))

    assert run_tasks(BhavcopyETL(date=UDIFF_DAY)).status == LuigiStatusCode.SUCCESS
    rejects = read_stage(layout.rejects_path(data_dir, "cm", UDIFF_DAY)).to_pylist()
    reasons = sorted(r["reason"] for r in rejects)
    assert reasons == ["duplicate row", "high < low", "missing symbol", "negative volume"]
    lake = pq.read_table(layout.lake_path(data_dir, "cm", UDIFF_DAY))
    assert lake.num_rows + len(rejects) == len(rows) + 1
    assert lake.num_rows == 2993 - 3


# ---- the trading calendar decides what a day needs ----

@pytest.mark.parametrize("closed", [date(2025, 6, 21), date(2024, 1, 26), date(2024, 1, 22)])
def test_closed_day_is_complete_and_makes_no_request(data_dir, nse_server, run_tasks, closed):
    task = BhavcopyETL(date=closed)
    assert task.complete()
    assert run_tasks(task).status == LuigiStatusCode.SUCCESS
    assert nse_server.requests == []
    assert not data_dir.exists() or list(data_dir.rglob("*.parquet")) + list(data_dir.rglob("*.arrow")) == []


@pytest.mark.parametrize("special", [date(2024, 1, 20), date(2024, 11, 1)])
def test_special_session_runs_normally(data_dir, nse_server, run_tasks, special):
    """A Saturday session and a Muhurat session on a holiday both have files."""
    name = f"cm{special:%d}{special.strftime('%b').upper()}{special:%Y}bhav.csv.zip"
    if special >= date(2024, 7, 8):
        member = f"BhavCopy_NSE_CM_0_0_0_{special:%Y%m%d}_F_0000.csv"
        text = fixture_text(UDIFF_FILE).replace("2025-06-18", special.isoformat())
        nse_server.put(member + ".zip", repack(member, text))
    else:
        nse_server.put(name, redate_legacy_zip((DATA / LEGACY_FILE).read_bytes(), special))
    assert not BhavcopyETL(date=special).complete()
    assert run_tasks(BhavcopyETL(date=special)).status == LuigiStatusCode.SUCCESS
    assert pq.read_table(layout.lake_path(data_dir, "cm", special))["trade_date"].to_pylist()[0] == special
