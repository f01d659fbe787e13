"""verify and status on damaged files: a corrupt file is named with what to delete, never trusted,
and status prints its lines instead of a traceback."""
import json
import os
import subprocess
import sys
from datetime import date

import pyarrow.parquet as pq
from luigi.execution_summary import LuigiStatusCode

from luigi_tasks import lake, layout, warehouse
from luigi_tasks.__main__ import main
from luigi_tasks.config import clickhouse
from luigi_tasks.lake import read_stage
from luigi_tasks.targets import sha256_of
from luigi_tasks.tasks import BhavcopyETL, LoadClickHouse

from tests.faults.fault_helpers import luigi_failures

DAY, OTHER = date(2025, 6, 18), date(2025, 6, 19)
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RANGE = ["--start", "2025-06-18", "--stop", "2025-06-20"]


def truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_a_clean_range_verifies(data_dir, nse_server, run_tasks, capsys):
    assert run_tasks(BhavcopyETL(date=DAY), BhavcopyETL(date=OTHER)).status == LuigiStatusCode.SUCCESS
    assert main(["verify", *RANGE]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["2025-06-18  cm       ok", "2025-06-19  cm       ok",
                     "verify: 2 session-days in [2025-06-18, 2025-06-20): 2 ok, 0 corrupt, 0 missing"]
    seal = json.loads(layout.seal_path(layout.lake_path(data_dir, "cm", DAY)).read_text())
    assert seal["rows"] == pq.ParquetFile(layout.lake_path(data_dir, "cm", DAY)).metadata.num_rows == 2993
    assert json.loads(layout.raw_sidecar_path(data_dir, "cm", DAY).read_text())["rows"] == 2993
    marker = json.loads(layout.loaded_marker_path(data_dir, "cm", DAY).read_text())
    assert marker["lake_sha256"] == seal["sha256"] and marker["rows"] == 2993


def test_a_truncated_lake_file_is_corrupt_in_status_and_verify_and_a_rerun_rebuilds_it(data_dir, nse_server,
                                                                                       run_tasks, capsys):
    assert run_tasks(BhavcopyETL(date=DAY), BhavcopyETL(date=OTHER)).status == LuigiStatusCode.SUCCESS
    lake_file = layout.lake_path(data_dir, "cm", DAY)
    truncate(lake_file)
    shown = lake_file.relative_to(data_dir)

    assert main(["status", *RANGE]) == 1  # lines, not an ArrowInvalid traceback
    status = capsys.readouterr().out.splitlines()
    assert status[0].startswith(f"2025-06-18  cm       corrupt  {shown} has ")
    assert status[0].endswith("delete it to rebuild")
    assert status[1].startswith("2025-06-19  cm       done       2,986 rows")
    assert status[-1] == "summary: 2 session-days in [2025-06-18, 2025-06-20): 1 done, 0 missing, 1 corrupt; 0 closed"

    assert main(["verify", *RANGE]) == 1
    verify = capsys.readouterr().out.splitlines()
    assert verify[0].startswith(f"2025-06-18  cm       corrupt  {shown}: ")
    assert verify[0].endswith(f"(truncated or rewritten); delete {shown} to rebuild it")
    assert verify[-1].endswith("1 ok, 1 corrupt, 0 missing")

    # The day is not done for Luigi either: the rerun republishes the lake file and reloads the day.
    assert run_tasks(BhavcopyETL(date=DAY)).status == LuigiStatusCode.SUCCESS
    assert pq.read_table(lake_file).num_rows == 2993
    assert main(["verify", *RANGE]) == 0


def test_a_lake_file_changed_in_place_is_refused_by_the_load(data_dir, nse_server, run_tasks, capsys):
    assert run_tasks(BhavcopyETL(date=DAY)).status == LuigiStatusCode.SUCCESS
    lake_file = layout.lake_path(data_dir, "cm", DAY)
    data = bytearray(lake_file.read_bytes())
    data[100] ^= 0xFF  # same size: only the checksum can tell
    lake_file.write_bytes(bytes(data))
    layout.loaded_marker_path(data_dir, "cm", DAY).unlink()  # ask for a reload

    assert main(["verify", "--start", "2025-06-18", "--stop", "2025-06-19"]) == 1
    assert "SHA-256 differs from its seal" in capsys.readouterr().out
    with luigi_failures() as failed:
        assert run_tasks(LoadClickHouse(date=DAY, dataset="cm")).status == LuigiStatusCode.FAILED
    assert [family for family, _ in failed] == ["LoadClickHouse"]
    assert str(failed[0][1]).startswith(f"2025-06-18 {lake_file}: lake file not loaded: its SHA-256 differs")
    assert not layout.loaded_marker_path(data_dir, "cm", DAY).exists()


def test_adopt_seals_a_day_written_before_seals_and_never_a_redo_in_progress(data_dir, nse_server, run_tasks,
                                                                              capsys):
    assert run_tasks(BhavcopyETL(date=DAY, load_to_clickhouse=False),
                     BhavcopyETL(date=OTHER, load_to_clickhouse=False)).status == LuigiStatusCode.SUCCESS
    # DAY as an older version left it: no hidden seals, a sidecar without bytes or sha256
    for path in data_dir.rglob(".*.seal.json"):
        if DAY.isoformat() in path.name:
            path.unlink()
    sidecar = layout.raw_sidecar_path(data_dir, "cm", DAY)
    old = {k: v for k, v in json.loads(sidecar.read_text()).items() if k not in ("bytes", "sha256", "rows")}
    sidecar.write_text(json.dumps(old))
    # OTHER is a redo in progress: its lake file's seal was removed by an upstream redo
    layout.seal_path(layout.lake_path(data_dir, "cm", OTHER)).unlink()

    assert main(["status", *RANGE, "--load-to-clickhouse", "false"]) == 1
    assert capsys.readouterr().out.splitlines()[0] == "2025-06-18  cm       missing  from DownloadBhavcopy  via cm-udiff"
    assert main(["adopt", *RANGE]) == 0
    assert capsys.readouterr().out.splitlines() == ["2025-06-18  cm       sealed 5 files",
                                                    "adopt: 1 days sealed in [2025-06-18, 2025-06-20)"]
    assert main(["verify", *RANGE, "--load-to-clickhouse", "false"]) == 0
    assert capsys.readouterr().out.splitlines()[:2] == ["2025-06-18  cm       ok",
                                                        "2025-06-19  cm       missing  from WriteParquet"]
    requests = len(nse_server.requests)
    assert run_tasks(BhavcopyETL(date=DAY, load_to_clickhouse=False),
                     BhavcopyETL(date=OTHER, load_to_clickhouse=False)).status == LuigiStatusCode.SUCCESS
    assert len(nse_server.requests) == requests  # nothing refetched: OTHER only republished its lake file


def test_verify_command_defaults_to_every_date_on_disk(data_dir, nse_server, run_tasks):
    assert run_tasks(BhavcopyETL(date=OTHER, load_to_clickhouse=False)).status == LuigiStatusCode.SUCCESS
    truncate(layout.staging_path(data_dir, "cm", OTHER))
    completed = subprocess.run([sys.executable, "-m", "luigi_tasks", "verify", "--load-to-clickhouse", "false",
                                "--dataset", "cm"],
                               cwd=REPO, env={**os.environ, "DATA_DIR": str(data_dir)}, capture_output=True,
                               text=True, timeout=60)
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert completed.stdout.splitlines()[0].startswith("2025-06-19  cm       corrupt  staging/cm/2025-06-19.arrow: ")
    assert completed.stdout.splitlines()[-1] == \
        "verify: 1 session-days in [2025-06-19, 2025-06-20): 0 ok, 1 corrupt, 0 missing"


def test_intermediates_an_older_version_left_as_parquet_are_rebuilt_from_raw(data_dir, nse_server, run_tasks, capsys):
    """Staging, normalized and rejects files are Arrow IPC now; an older version's sealed `.parquet`
    ones are not targets: status and verify say the day is missing from Parse, and a rerun rebuilds
    it from the raw file (no request to NSE), leaving the old files alone."""
    assert run_tasks(BhavcopyETL(date=DAY)).status == LuigiStatusCode.SUCCESS
    old_files = []
    for path_for in (layout.staging_path, layout.normalized_path, layout.rejects_path):
        path = path_for(data_dir, "cm", DAY)
        old = path.with_suffix(".parquet")
        pq.write_table(read_stage(path), old, compression="zstd")
        seal = json.loads(layout.seal_path(path).read_text())
        seal.update(file=old.name, bytes=old.stat().st_size, sha256=sha256_of(str(old)))
        layout.seal_path(old).write_text(json.dumps(seal))
        path.unlink()
        layout.seal_path(path).unlink()
        old_files += [old, layout.seal_path(old)]
    lake_inode = layout.lake_path(data_dir, "cm", DAY).stat().st_ino

    assert main(["status", "--start", "2025-06-18", "--stop", "2025-06-19"]) == 1
    assert capsys.readouterr().out.splitlines()[0] == \
        "2025-06-18  cm       missing  from ParseBhavcopy   2,993 rows  via cm-udiff"
    assert main(["verify", "--start", "2025-06-18", "--stop", "2025-06-19"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "2025-06-18  cm       missing  from ParseBhavcopy",
        "verify: 1 session-days in [2025-06-18, 2025-06-19): 0 ok, 0 corrupt, 1 missing"]

    requests = len(nse_server.requests)
    assert run_tasks(BhavcopyETL(date=DAY)).status == LuigiStatusCode.SUCCESS
    assert len(nse_server.requests) == requests
    assert lake.stage_rows(layout.staging_path(data_dir, "cm", DAY)) == 2993
    assert lake.stage_rows(layout.rejects_path(data_dir, "cm", DAY)) == 0
    assert pq.ParquetFile(layout.lake_path(data_dir, "cm", DAY)).metadata.num_rows == 2993
    assert layout.lake_path(data_dir, "cm", DAY).stat().st_ino != lake_inode  # republished (a new file renamed in)
    settings = clickhouse()
    client = warehouse.connect(chdb_path=settings.chdb_path)
    assert warehouse.count_day(client, settings.database, settings.table_for("cm"), DAY) == 2993
    assert json.loads(layout.loaded_marker_path(data_dir, "cm", DAY).read_text())["rows"] == 2993
    assert all(path.exists() for path in old_files)  # not ours to delete (README: safe to remove)
    assert main(["verify", "--start", "2025-06-18", "--stop", "2025-06-19"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "2025-06-18  cm       ok"
