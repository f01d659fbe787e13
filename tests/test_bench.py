"""The benchmark in smoke mode, so that it keeps working; its numbers are read by people, not asserted."""
import os
import re
import subprocess
import sys

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
