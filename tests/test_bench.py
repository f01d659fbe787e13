"""The benchmark in smoke mode, so that it keeps working; its numbers are read by people, not asserted."""
import io
import os
import re
import subprocess
import sys
import zipfile
from datetime import date

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_bench_smoke_runs_both_formats_and_prints_the_summary_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLICKHOUSE_", "MLFLOW_", "CHDB_", "DATA_DIR"))}
    completed = subprocess.run([sys.executable, "-m", "bench", "--days", "4", "--dir", str(tmp_path / "bench")],
                               cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    last = completed.stdout.strip().splitlines()[-1]
    match = re.fullmatch(r"backfill_s=[\d.]+ baseline_s=[\d.]+ ratio=[\d.]+ noop_s=[\d.]+ peak_rss_mb=\d+ "
                         r"days=(\d+) rows=(\d+)", last)
    assert match, last
    # two legacy days (2,339 rows) and two UDiFF days (2,993 rows) around the 2024-07-08 switch
    assert match.groups() == ("4", str(2 * 2339 + 2 * 2993))
    assert not (tmp_path / "bench").exists()


def test_local_archive_bench_smoke_indexes_and_finds_every_file(tmp_path):
    completed = subprocess.run([sys.executable, "-m", "bench.local_archive", "--files", "60", "--dir", str(tmp_path / "b")],
                               cwd=REPO, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert completed.stdout.splitlines()[0].startswith("files=60 dataset_days=60 ")
    assert re.search(r"^index_ms first=[\d.]+ median=[\d.]+", completed.stdout, re.M)
    assert not (tmp_path / "b").exists()


def test_growth_smoke_runs_each_range_in_its_era_layout_and_prints_growth(tmp_path):
    """Two ranges ending 2004-01-06: CM without TOTALTRADES/ISIN and with unpadded days, F&O legacy, American."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLICKHOUSE_", "MLFLOW_", "CHDB_", "DATA_DIR"))}
    completed = subprocess.run([sys.executable, "-m", "bench", "--growth", "1,2", "--end", "2004-01-06",
                                "--datasets", "cm,fo", "--tracking", "off", "--dir", str(tmp_path / "bench")],
                               cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    lines = completed.stdout.strip().splitlines()
    assert "| sessions | first day | pipeline | per session | bare script | per session | ratio |" in completed.stdout
    assert [line.split(" | ")[1] for line in lines if line.startswith("| 1 |") or line.startswith("| 2 |")] == [
        "2004-01-06", "2004-01-05"]
    match = re.fullmatch(r"backfill_s=[\d.]+ baseline_s=[\d.]+ ratio=[\d.]+ noop_s=[\d.]+ peak_rss_mb=\d+ "
                         r"days=(\d+) rows=(\d+) growth=[\d.]+", lines[-1])
    assert match, lines[-1]
    # the bench checked the lake against these: 2,339 CM rows and 34,304 F&O rows a day
    assert match.groups() == ("2", str(2 * 2339 + 2 * 34304))
    assert not (tmp_path / "bench").exists()


def test_mirror_writes_each_era_in_its_own_layout():
    from bench import mirror

    def text(dataset, day):
        url, body, rows = mirror.file_for(dataset, day)
        if url.endswith(".zip"):
            with zipfile.ZipFile(io.BytesIO(body)) as archive:
                return url, archive.read(archive.namelist()[0]).decode(), rows
        return url, body.decode(), rows

    url, cm1995, rows = text("cm", date(1995, 1, 5))
    assert url == "/content/historical/EQUITIES/1995/JAN/cm05JAN1995bhav.csv.zip" and rows == 2339
    assert cm1995.startswith("SYMBOL,SERIES,OPEN,HIGH,LOW,CLOSE,LAST,PREVCLOSE,TOTTRDQTY,TOTTRDVAL,TIMESTAMP,\r\n")
    assert ",5-JAN-1995,\r\n" in cm1995 and "01-DEC-2022" not in cm1995
    _, cm2007, _ = text("cm", date(2007, 8, 29))
    assert "\r" not in cm2007 and ",29-AUG-2007,\n" in cm2007 and "ISIN" not in cm2007.splitlines()[0]
    _, cm2022, _ = text("cm", date(2022, 12, 2))
    assert cm2022.splitlines()[0].endswith("TIMESTAMP,TOTALTRADES,ISIN,") and "02-DEC-2022" in cm2022
    url, cm2025, rows = text("cm", date(2025, 6, 19))
    assert url == "/content/cm/BhavCopy_NSE_CM_0_0_0_20250619_F_0000.csv.zip" and rows == 2993
    assert cm2025.count("2025-06-19") >= rows and "2025-06-18" not in cm2025
    url, fo2004, rows = text("fo", date(2004, 1, 2))
    assert url == "/content/historical/DERIVATIVES/2004/JAN/fo02JAN2004bhav.csv.zip" and rows == 34304
    options = {line.split(",")[0] + line.split(",")[4] for line in fo2004.splitlines()[1:]}
    assert options == {"OPTSTKCA", "OPTSTKPA", "OPTIDXCE", "OPTIDXPE", "FUTSTKXX", "FUTIDXXX"}
    assert fo2004.splitlines()[1].endswith(",02-JAN-2004,")
    _, fo2018, _ = text("fo", date(2018, 6, 28))
    assert "OPTSTK" in fo2018 and ",CA," not in fo2018
    url, delivery, rows = text("delivery", date(2024, 7, 8))
    assert url == "/products/content/sec_bhavdata_full_08072024.csv" and rows == 2865 and " 08-Jul-2024," in delivery
