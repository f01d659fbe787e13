"""`python -m bench [--days N] [--local-archive]`: a year of backfill, its no-op rerun, and a bare
baseline, in numbers. `--local-archive` backfills from the mirror's files in a folder instead
(`NSE_LOCAL_ARCHIVE`, offline); bench/local_archive.py measures the index on its own.

Builds a local NSE mirror of N sessions (default 248, about a year) around the 2024-07-08 format
switch, serves it on 127.0.0.1, runs RangeDaily over it from an empty DATA_DIR with the embedded
ClickHouse and MLflow on, reruns it (a no-op), then runs bench/baseline.py on the same files.
Each run is its own process, timed from outside, with its peak RSS from wait4.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from luigi_tasks.routes import UDIFF_FROM

from . import mirror

from tests.nse_server import NSEServer  # the NSE emulator the tests use

REPO = Path(__file__).resolve().parent.parent

STAGES = ["scrape", "parse", "normalize", "write", "load"]


def timed(cmd: list[str], env: dict) -> tuple[float, float, subprocess.CompletedProcess]:
    """Wall seconds and peak RSS (MB) of one child process."""
    started = time.perf_counter()
    process = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    return seconds, usage.ru_maxrss / 1024, subprocess.CompletedProcess(cmd, code, output)


def stage_medians(tracking_uri: str) -> dict[str, float]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    experiment = client.get_experiment_by_name("nse-bhavcopy-etl")
    runs = client.search_runs([experiment.experiment_id], max_results=50000) if experiment else []
    medians = {}
    for stage in STAGES:
        values = [run.data.metrics[f"{stage}_duration_seconds"] for run in runs
                  if f"{stage}_duration_seconds" in run.data.metrics]
        medians[stage] = statistics.median(values) * 1000 if values else float("nan")
    return medians


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--days", type=int, default=248, help="trading days to backfill (default 248)")
    parser.add_argument("--dir", help="work folder (default: a fresh one under /dev/shm); deleted unless --keep")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--local-archive", action="store_true",
                        help="backfill from the same files in a local folder, offline (NSE_LOCAL_ARCHIVE)")
    args = parser.parse_args(argv)

    base = args.dir or tempfile.mkdtemp(prefix="nse-bench-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    work = Path(base)
    days = mirror.trading_days(args.days)
    files = mirror.build(days)
    expected_rows = 0
    with NSEServer(files) as server:
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("CLICKHOUSE_", "MLFLOW_", "CHDB_", "LUIGI_CONFIG"))}
        env.update(DATA_DIR=str(work / "pipeline"), NSE_BASE_URL=server.url, PYTHONUNBUFFERED="1")
        if args.local_archive:
            for url_path, body in files.items():
                target = work / "archive" / url_path.lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(body)
            env.update(NSE_LOCAL_ARCHIVE=str(work / "archive"), NSE_OFFLINE="true")
        start, stop = days[0].isoformat(), (days[-1] + timedelta(days=1)).isoformat()
        luigi_cmd = [sys.executable, "-m", "luigi", "--module", "luigi_tasks", "RangeDaily", "--of", "BhavcopyETL",
                     "--start", start, "--stop", stop, "--BhavcopyETL-datasets", '["cm"]',
                     "--local-scheduler", "--log-level", "WARNING"]

        backfill_s, backfill_rss, backfill = timed(luigi_cmd, env)
        if backfill.returncode != 0:
            print(backfill.stdout[-5000:])
            raise SystemExit(f"backfill failed with exit code {backfill.returncode}")
        requests_after_backfill = len(server.requests)
        if args.local_archive and requests_after_backfill:
            raise SystemExit(f"an offline backfill from the local archive made {requests_after_backfill} requests")
        noop_s, noop_rss, noop = timed(luigi_cmd, env)
        if noop.returncode != 0 or len(server.requests) != requests_after_backfill:
            raise SystemExit("the rerun was not a no-op")
        status = subprocess.run([sys.executable, "-m", "luigi_tasks", "status", "--start", start, "--stop", stop,
                                 "--dataset", "cm"],
                                cwd=REPO, env=env, capture_output=True, text=True)
        if status.returncode != 0:
            raise SystemExit("status says not every day is done:\n" + status.stdout[-2000:])
        from luigi_tasks import lake, layout

        rows = lake.open_lake(layout.lake_root(work / "pipeline", "cm")).count_rows()
        expected_rows = sum(2993 if day >= UDIFF_FROM else 2339 for day in days)
        if rows != expected_rows:
            raise SystemExit(f"lake holds {rows} rows, expected {expected_rows}")

        baseline_cmd = [sys.executable, "-m", "bench.baseline", server.url, str(work / "baseline"),
                        UDIFF_FROM.isoformat(), *[day.isoformat() for day in days]]
        baseline_s, baseline_rss, baseline = timed(baseline_cmd, env)
        if baseline.returncode != 0:
            raise SystemExit("baseline failed:\n" + baseline.stdout[-3000:])
        baseline_inner = json.loads(baseline.stdout.strip().splitlines()[-1])

    medians = stage_medians("sqlite:///" + str(work / "pipeline" / "mlflow.db"))
    ratio = backfill_s / baseline_s
    peak = max(backfill_rss, noop_rss)
    print(f"{'':28}{'pipeline':>12}{'baseline':>12}")
    print(f"{'wall time, s':28}{backfill_s:12.2f}{baseline_s:12.2f}")
    print(f"{'  of which in-process, s':28}{'':>12}{baseline_inner['seconds']:12.2f}")
    print(f"{'no-op rerun, s':28}{noop_s:12.2f}")
    print(f"{'rows per second':28}{rows / backfill_s:12,.0f}{baseline_inner['rows'] / baseline_s:12,.0f}")
    print(f"{'peak RSS, MB':28}{peak:12.0f}{baseline_rss:12.0f}")
    for stage in STAGES:
        print(f"{'median ' + stage + ', ms/day':28}{medians[stage]:12.1f}")
    print(f"days={len(days)} ({days[0]} .. {days[-1]}), rows={rows}, folder={work}")
    print(f"backfill_s={backfill_s:.2f} baseline_s={baseline_s:.2f} ratio={ratio:.2f} noop_s={noop_s:.2f} "
          f"peak_rss_mb={peak:.0f} days={len(days)} rows={rows}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
