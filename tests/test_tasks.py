"""End to end through Luigi: a real HTTP download from the local NSE server to the Parquet lake."""
import csv
import io
import os
import zipfile
from datetime import date

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from luigi.execution_summary import LuigiStatusCode

from luigi_tasks import layout
from luigi_tasks.tasks import BhavcopyETL, DownloadBhavcopy, NormalizeBhavcopy, ParseBhavcopy, WriteParquet

from conftest import DATA

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
    with zipfile.ZipFile(DATA / file_name) as archive:
        text = archive.read(archive.namelist()[0]).decode("utf-8")
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
    assert pq.read_table(layout.rejects_path(data_dir, "cm", day)).num_rows == 0


def test_lake_reads_back_with_hive_partitioning(data_dir, nse_server, run_tasks):
    assert run_tasks(BhavcopyETL(date=LEGACY_DAY), BhavcopyETL(date=UDIFF_DAY)).status == LuigiStatusCode.SUCCESS
    lake = ds.dataset(data_dir / "lake" / "cm_bhavcopy", format="parquet", partitioning="hive")
    table = lake.to_table()
    assert table.num_rows == 2339 + 2993
    june = lake.to_table(filter=(ds.field("year") == 2025) & (ds.field("month") == 6) & (ds.field("day") == 18))
    assert june.num_rows == 2993
    assert set(june["trade_date"].to_pylist()) == {UDIFF_DAY}
    assert (data_dir / "lake/cm_bhavcopy/year=2025/month=06/day=18").is_dir()
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
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        text = archive.read(archive.namelist()[0]).decode()
    stamp = day.strftime("%d-%b-%Y").upper()
    text = text.replace("01-DEC-2022", stamp)
    member = f"cm{day:%d}{day.strftime('%b').upper()}{day:%Y}bhav.csv"
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member, text)
    return out.getvalue()


def test_stage_targets_are_written_atomically_no_temp_left(data_dir, nse_server, run_tasks):
    assert run_tasks(BhavcopyETL(date=LEGACY_DAY)).status == LuigiStatusCode.SUCCESS
    leftovers = [p for p in data_dir.rglob("*") if "tmp" in p.name]
    assert leftovers == []


def test_stage_tasks_share_one_path_layout(data_dir):
    task = WriteParquet(date=UDIFF_DAY)
    assert task.output().path == os.fspath(data_dir / "lake/cm_bhavcopy/year=2025/month=06/day=18/cm_bhavcopy-2025-06-18.parquet")
    assert DownloadBhavcopy(date=UDIFF_DAY).output().path == os.fspath(data_dir / "raw/cm/2025-06-18.zip")
    assert ParseBhavcopy(date=UDIFF_DAY).output().path.endswith("staging/cm/2025-06-18.parquet")
    assert NormalizeBhavcopy(date=UDIFF_DAY).output()["rejects"].path.endswith("rejects/cm/2025-06-18.parquet")
