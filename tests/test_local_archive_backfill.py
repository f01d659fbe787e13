"""Importing an archive a user already has: RangeDaily over folders of NSE's and the peers' files."""
import csv
import io
import json
from datetime import date
from pathlib import Path

import pytest
from luigi.execution_summary import LuigiStatusCode

from luigi_tasks import RangeDaily, lake, layout, local_archive, status
from luigi_tasks.errors import BhavcopyError
from luigi_tasks.run_calendar import need
from luigi_tasks.tasks import BhavcopyETL, DownloadBhavcopy
from tests.nse_server import member_text, zip_bytes

DATA = Path(__file__).parent / "data"
LEGACY = {1: member_text(DATA / "cm01DEC2022bhav.csv.zip"), 2: member_text(DATA / "cm02DEC2022bhav.csv.zip")}
DEC = {d: date(2022, 12, d) for d in (1, 2, 5, 6, 7)}  # Thu, Fri, Mon, Tue, Wed
JUN18, JUN19, FEB3 = date(2025, 6, 18), date(2025, 6, 19), date(2025, 2, 3)


def put(folder: Path, relative: str, body: bytes) -> Path:
    path = folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    return path


def eod2_copy(csv_bytes: bytes, index_col: str) -> bytes:
    import pandas as pd

    out = io.StringIO()
    pd.read_csv(io.BytesIO(csv_bytes), index_col=index_col).to_csv(out)
    return out.getvalue().encode()


@pytest.fixture
def archive(tmp_path):
    """Two folders, as `NSE_LOCAL_ARCHIVE=a:b`: NSE's zips, jugaad-data's and the nse package's bare
    CSVs, eod2's delivery copy, one day twice in both folders, and three days that must not land."""
    nse, peers = tmp_path / "nse", tmp_path / "peers"
    udiff_zip = (DATA / "BhavCopy_NSE_CM_0_0_0_20250618_F_0000.csv.zip").read_bytes()
    files = {
        ("cm", DEC[1]): put(nse, "2022/DEC/cm01DEC2022bhav.csv.zip", (DATA / "cm01DEC2022bhav.csv.zip").read_bytes()),
        ("cm", DEC[2]): put(peers, "jugaad/cm02Dec2022bhav.csv", LEGACY[2].encode()),
        ("cm", JUN18): put(nse, "2025/BhavCopy_NSE_CM_0_0_0_20250618_F_0000.csv.zip", udiff_zip),
        ("cm", JUN19): put(nse, "2025/BhavCopy_NSE_CM_0_0_0_20250619_F_0000.csv.zip",
                           (DATA / "BhavCopy_NSE_CM_0_0_0_20250619_F_0000.csv.zip").read_bytes()),
        ("delivery", JUN18): put(peers, "jugaad/sec_bhavdata_full_18Jun2025bhav.csv",
                                 (DATA / "sec_bhavdata_full_18062025.csv").read_bytes()),
        ("delivery", JUN19): put(peers, "eod2/nseDelivery/2025/sec_bhavdata_full_19062025.csv",
                                 eod2_copy((DATA / "sec_bhavdata_full_19062025.csv").read_bytes(), "SYMBOL")),
        ("fo", FEB3): put(peers, "nse-package/BhavCopy_NSE_FO_0_0_0_20250203_F_0000.csv",
                          member_text(DATA / "BhavCopy_NSE_FO_0_0_0_20250203_F_0000.csv.zip").encode()),
    }
    # the same day again: NSE's member extracted (eod2's download), and the same zip in the other folder
    put(peers, "eod2/BhavCopy_NSE_CM_0_0_0_20250618_F_0000.csv", member_text(DATA / "BhavCopy_NSE_CM_0_0_0_20250618_F_0000.csv.zip").encode())
    put(peers, "copies/BhavCopy_NSE_CM_0_0_0_20250619_F_0000.csv.zip",
        (DATA / "BhavCopy_NSE_CM_0_0_0_20250619_F_0000.csv.zip").read_bytes())
    # 5 December twice with different rows; 6 December is 1 December's file renamed; 7 December is absent
    conflict = (put(nse, "2022/DEC/cm05DEC2022bhav.csv.zip",
                    zip_bytes({"cm05DEC2022bhav.csv": LEGACY[1].replace("01-DEC-2022", "05-DEC-2022")})),
                put(peers, "jugaad/cm05Dec2022bhav.csv", LEGACY[2].replace("02-DEC-2022", "05-DEC-2022").encode()))
    renamed = put(peers, "jugaad/cm06Dec2022bhav.csv", LEGACY[1].encode())
    return {"setting": f"{nse}:{peers}", "folders": (str(nse), str(peers)), "files": files,
            "conflict": conflict, "renamed": renamed}


def backfill(start, stop, datasets):
    return RangeDaily(of=BhavcopyETL, start=start, stop=stop,
                      of_params={"load_to_clickhouse": False, "datasets": datasets})


def source_rows(csv_bytes: bytes) -> list[tuple]:
    """(symbol, close, volume) of every row, read with the csv module alone, not the pipeline."""
    reader = csv.DictReader(io.StringIO(csv_bytes.decode("utf-8-sig")), skipinitialspace=True)
    columns = {"legacy": ("SYMBOL", "CLOSE", "TOTTRDQTY"), "udiff": ("TckrSymb", "ClsPric", "TtlTradgVol"),
               "full": ("SYMBOL", "CLOSE_PRICE", "TTL_TRD_QNTY")}
    rows = []
    for row in reader:
        fmt = "full" if "DELIV_QTY" in row else "udiff" if "TckrSymb" in row else "legacy"
        symbol, close, volume = columns[fmt]
        rows.append((row[symbol].strip(), float(row[close]), int(row[volume])))
    return sorted(rows)


def lake_rows(root: Path, dataset: str, day: date) -> list[tuple]:
    table = lake.read_table(layout.lake_path(root, dataset, day))
    return sorted(zip(table["symbol"].to_pylist(), table["close"].to_pylist(), table["volume"].to_pylist()))


def csv_of(path: Path) -> bytes:
    return member_text(path).encode() if path.suffix == ".zip" else path.read_bytes()


def test_offline_backfill_lands_every_valid_day_exactly_and_asks_nse_nothing(
        data_dir, nse_server, run_tasks, archive, monkeypatch):
    monkeypatch.setenv("NSE_LOCAL_ARCHIVE", archive["setting"])
    monkeypatch.setenv("NSE_OFFLINE", "true")
    result = run_tasks(backfill(DEC[1], date(2022, 12, 8), ["cm"]),
                       backfill(JUN18, date(2025, 6, 20), ["cm", "delivery"]),
                       backfill(FEB3, date(2025, 2, 4), ["fo"]))

    assert result.status == LuigiStatusCode.FAILED  # 5, 6 and 7 December
    assert nse_server.requests == []  # NSE_BASE_URL and NSE_WEB_URL point at it, and it was never asked
    assert local_archive.index.cache_info().misses == 1  # one walk of the folders for the whole backfill
    assert sorted(layout.lake_dates(data_dir, "cm")) == [DEC[1], DEC[2], JUN18, JUN19]
    assert sorted(layout.lake_dates(data_dir, "delivery")) == [JUN18, JUN19]
    assert sorted(layout.lake_dates(data_dir, "fo")) == [FEB3]
    for day in (DEC[5], DEC[6], DEC[7]):
        assert not layout.raw_path(data_dir, "cm", day).exists()
        assert not layout.raw_sidecar_path(data_dir, "cm", day).exists()

    for (dataset, day), path in archive["files"].items():
        if dataset == "fo":
            table = lake.read_table(layout.lake_path(data_dir, "fo", day))
            reader = list(csv.DictReader(io.StringIO(csv_of(path).decode())))
            assert sorted(zip(table["symbol"].to_pylist(), table["close"].to_pylist(), table["open_interest"].to_pylist())) \
                == sorted((row["TckrSymb"], float(row["ClsPric"]), int(row["OpnIntrst"])) for row in reader)
        else:
            assert lake_rows(data_dir, dataset, day) == source_rows(csv_of(path)), (dataset, day)
        sidecar = json.loads(layout.raw_sidecar_path(data_dir, dataset, day).read_text())
        assert (sidecar["route"], sidecar["source_path"]) == ("local", str(path))
        assert layout.raw_path(data_dir, dataset, day).read_bytes() == path.read_bytes()  # the bytes as found
        assert not layout.rejects_path(data_dir, dataset, day).exists() or \
            lake.read_stage(layout.rejects_path(data_dir, dataset, day)).num_rows == 0
    assert json.loads(layout.raw_sidecar_path(data_dir, "cm", DEC[2]).read_text())["content"] == "csv"

    lines, all_done = status.report(data_dir, ["cm"], DEC[1], date(2022, 12, 8), need, load=False)
    assert not all_done
    assert lines[:2] == ["2022-12-01  cm       done       2,339 rows  via local",
                         "2022-12-02  cm       done       2,338 rows  via local"]
    assert lines[4:7] == [f"2022-12-0{d}  cm       missing  from DownloadBhavcopy" for d in (5, 6, 7)]


def test_the_days_that_do_not_land_say_why(data_dir, archive, monkeypatch):
    monkeypatch.setenv("NSE_LOCAL_ARCHIVE", archive["setting"])
    monkeypatch.setenv("NSE_OFFLINE", "true")
    first, second = archive["conflict"]
    with pytest.raises(BhavcopyError, match=f"^2022-12-05 {first}: differs from {second}: two different cm files"):
        DownloadBhavcopy(date=DEC[5]).run()
    with pytest.raises(BhavcopyError, match=f"^2022-12-06 cm: not in the local archive {archive['setting']} and "
                                            rf"\[nse\] offline is set \(looked for .*; refused {archive['renamed']}: "
                                            r"wrong trade date inside the file: 2022-12-01 \(expected 2022-12-06\)\)$"):
        DownloadBhavcopy(date=DEC[6]).run()
    with pytest.raises(BhavcopyError, match=rf"^2022-12-07 cm: not in the local archive {archive['setting']} and "
                                            r"\[nse\] offline is set \(looked for BhavCopy_NSE_CM_0_0_0_20221207_F_0000"):
        DownloadBhavcopy(date=DEC[7]).run()
    assert not (data_dir / "raw").exists()


def test_online_a_refused_local_file_falls_back_to_nse(data_dir, nse_server, run_tasks, archive, monkeypatch):
    """Not offline: local days cost no request; a day whose local file fails its checks is fetched."""
    monkeypatch.setenv("NSE_LOCAL_ARCHIVE", archive["setting"])
    put(Path(archive["folders"][1]), "jugaad/cm02Dec2022bhav.csv", LEGACY[1].encode())  # now 1 Dec's rows
    result = run_tasks(backfill(DEC[1], date(2022, 12, 3), ["cm"]))
    assert result.status == LuigiStatusCode.SUCCESS
    assert nse_server.paths_requested() == ["/content/historical/EQUITIES/2022/DEC/cm02DEC2022bhav.csv.zip"]
    routes = [json.loads(layout.raw_sidecar_path(data_dir, "cm", d).read_text())["route"] for d in (DEC[1], DEC[2])]
    assert routes == ["local", "cm-legacy"]
    assert lake_rows(data_dir, "cm", DEC[2]) == source_rows(LEGACY[2].encode())


def test_network_unreachable_and_not_offline_local_days_still_land(data_dir, run_tasks, archive, monkeypatch):
    monkeypatch.setenv("NSE_LOCAL_ARCHIVE", archive["setting"])
    monkeypatch.setenv("NSE_BASE_URL", "http://127.0.0.1:9")  # the discard port: nothing listens
    monkeypatch.setenv("NSE_WEB_URL", "http://127.0.0.1:9")
    assert run_tasks(backfill(JUN18, date(2025, 6, 20), ["cm"])).status == LuigiStatusCode.SUCCESS
    assert sorted(layout.lake_dates(data_dir, "cm")) == [JUN18, JUN19]
