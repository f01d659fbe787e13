"""`python -m bench [--days N] [--datasets cm,fo,delivery] [--growth RANGES] [--local-archive]`:
a backfill, its no-op rerun, and a bare script doing the same work, in numbers.

Builds a local NSE mirror of N sessions (default 248, about a year; bench/mirror.py: around the
2024-07-08 format switch while the calendar allows, back to 1994-11-03 for longer ranges, each day
in its era's layout), serves it on 127.0.0.1, runs RangeDaily over it from an empty DATA_DIR with
the embedded ClickHouse and MLflow on (`--tracking off`: MLflow off), reruns it (a no-op), checks
the lake's rows, then runs bench/baseline.py on the same files. Each run is its own process, timed
from outside, with its peak RSS from wait4. `--growth 21,248,992,full` does that for each range and
prints seconds per session; `growth=` on the last line is the longest range's time per session over
one year's (248 sessions; the shortest range's when 248 is not among them). `--local-archive`
backfills from the mirror's folder instead (`NSE_LOCAL_ARCHIVE`, offline).
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path

from luigi_tasks.datasets import DATASETS
from luigi_tasks.stages import STAGE_LIST, named
from tests.nse_server import NSEServer  # the NSE emulator the tests use

from . import mirror

REPO = Path(__file__).resolve().parent.parent

STAGES = [stage.task for stage in STAGE_LIST]
YEAR = 248
NAMED_RANGES = {"month": 21, "year": YEAR, "4y": 4 * YEAR, "full": 10**6}


def timed(cmd: list[str], env: dict, timeout: float | None = None) -> tuple[float, float, subprocess.CompletedProcess]:
    """Wall seconds and peak RSS (MB) of one child process; past `timeout` its process group is killed
    (exit code None)."""
    started = time.perf_counter()
    process = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    killed = []
    timer = threading.Timer(timeout, lambda: (killed.append(1), os.killpg(process.pid, signal.SIGKILL))) \
        if timeout else None
    if timer:
        timer.start()
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if timer:
        timer.cancel()
    code = None if killed else os.waitstatus_to_exitcode(status)
    return seconds, usage.ru_maxrss / 1024, subprocess.CompletedProcess(cmd, code, output)


def metric_name(dataset: str, stage: str) -> str:
    return DATASETS[dataset].metric_prefix + named(stage).duration_metric


def stage_medians(tracking_uri: str, datasets: list[str]) -> tuple[dict[str, dict[str, float]], int]:
    """Per dataset and stage, the median ms a day, from the MLflow runs the pipeline wrote."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    experiment = client.get_experiment_by_name("nse-bhavcopy-etl")
    runs = client.search_runs([experiment.experiment_id], max_results=50000) if experiment else []
    medians = {}
    for dataset in datasets:
        for stage in STAGES:
            values = [run.data.metrics[metric_name(dataset, stage)] for run in runs
                      if metric_name(dataset, stage) in run.data.metrics]
            medians.setdefault(dataset, {})[stage] = statistics.median(values) * 1000 if values else float("nan")
    return medians, len(runs)


def days_done(lake: Path, table: str) -> int:
    return sum(1 for _ in (lake / table).glob("year=*/month=*/day=*")) if (lake / table).is_dir() else 0


def run_range(days: list[date], datasets: list[str], work: Path, args) -> dict:
    """One range: build its mirror, backfill, rerun, check, bare script. Returns the numbers."""
    built = time.perf_counter()
    files, expected, manifest = mirror.write(days, datasets, work / "mirror")
    (work / "manifest.json").write_text(json.dumps(manifest))
    result = {"days": len(days), "first": days[0], "last": days[-1], "files": len(manifest),
              "mirror_s": time.perf_counter() - built, "expected": expected}
    with NSEServer(files) as server:
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("CLICKHOUSE_", "MLFLOW_", "CHDB_", "LUIGI_CONFIG"))}
        env.update(DATA_DIR=str(work / "pipeline"), NSE_BASE_URL=server.url, PYTHONUNBUFFERED="1",
                   MLFLOW_ENABLED="true" if args.tracking == "on" else "false")
        if args.local_archive:
            env.update(NSE_LOCAL_ARCHIVE=str(work / "mirror"), NSE_OFFLINE="true")
        start, stop = days[0].isoformat(), (days[-1] + timedelta(days=1)).isoformat()
        luigi_cmd = [sys.executable, "-m", "luigi", "--module", "luigi_tasks", "RangeDaily", "--of", "BhavcopyETL",
                     "--start", start, "--stop", stop, "--BhavcopyETL-datasets", json.dumps(datasets),
                     "--local-scheduler", "--no-lock", "--log-level", "WARNING", "--workers", str(args.workers)]

        backfill_s, backfill_rss, backfill = timed(luigi_cmd, env, args.timeout)
        lake = work / "pipeline" / "lake"
        result.update(backfill_s=backfill_s, backfill_rss=backfill_rss, finished=backfill.returncode is not None)
        if backfill.returncode is None:
            result["done_days"] = days_done(lake, DATASETS[datasets[0]].table)
            print(f"  pipeline stopped after {backfill_s:.0f} s (--timeout): {result['done_days']} of {len(days)} "
                  f"days of {datasets[0]} in the lake", flush=True)
        elif backfill.returncode != 0:
            print(backfill.stdout[-5000:])
            raise SystemExit(f"backfill failed with exit code {backfill.returncode}")
        else:
            requests_after_backfill = len(server.requests)
            if args.local_archive and requests_after_backfill:
                raise SystemExit(f"an offline backfill from the local archive made {requests_after_backfill} requests")
            noop_s, noop_rss, noop = timed(luigi_cmd, env)
            if noop.returncode != 0 or len(server.requests) != requests_after_backfill:
                raise SystemExit("the rerun was not a no-op")
            status = subprocess.run([sys.executable, "-m", "luigi_tasks", "status", "--start", start, "--stop", stop,
                                     *[arg for name in datasets for arg in ("--dataset", name)]],
                                    cwd=REPO, env=env, capture_output=True, text=True)
            if status.returncode != 0:
                raise SystemExit("status says not every day is done:\n" + status.stdout[-2000:])
            from luigi_tasks import lake as lake_files

            rows = {}
            for name in datasets:
                table = lake / DATASETS[name].table
                rows[name] = lake_files.open_lake(table).count_rows() if table.is_dir() else 0
                if rows[name] != expected[name]:
                    raise SystemExit(f"the {name} lake holds {rows[name]} rows, expected {expected[name]}")
            result.update(noop_s=noop_s, noop_rss=noop_rss, rows=sum(rows.values()))
            if args.tracking == "on":
                result["medians"], result["runs"] = stage_medians(
                    "sqlite:///" + str(work / "pipeline" / "mlflow.db"), datasets)

        baseline_cmd = [sys.executable, "-m", "bench.baseline", server.url, str(work / "baseline"),
                        str(work / "manifest.json")]
        baseline_s, baseline_rss, baseline = timed(baseline_cmd, env)
        if baseline.returncode != 0:
            raise SystemExit("baseline failed:\n" + baseline.stdout[-3000:])
        inner = json.loads(baseline.stdout.strip().splitlines()[-1])
        if inner["rows"] != sum(expected.values()):
            raise SystemExit(f"the bare script kept {inner['rows']} rows, expected {sum(expected.values())}")
        result.update(baseline_s=baseline_s, baseline_rss=baseline_rss, baseline_inner_s=inner["seconds"])
    return result


def print_range(result: dict, datasets: list[str]) -> None:
    print(f"{'':36}{'pipeline':>12}{'baseline':>12}")
    print(f"{'wall time, s':36}{result['backfill_s']:12.2f}{result['baseline_s']:12.2f}"
          + ("" if result["finished"] else "  (pipeline stopped by --timeout)"))
    print(f"{'  of which in-process, s':36}{'':>12}{result['baseline_inner_s']:12.2f}")
    if result["finished"]:
        print(f"{'no-op rerun, s':36}{result['noop_s']:12.2f}")
        print(f"{'rows per second':36}{result['rows'] / result['backfill_s']:12,.0f}"
              f"{result['rows'] / result['baseline_s']:12,.0f}")
    print(f"{'peak RSS, MB':36}{peak_rss(result):12.0f}{result['baseline_rss']:12.0f}")
    for dataset, medians in result.get("medians", {}).items():
        for stage in STAGES:
            print(f"{f'median {dataset} {stage}, ms/day':36}{medians[stage]:12.1f}")
    print(f"days={result['days']} ({result['first']} .. {result['last']}), datasets={','.join(datasets)}, "
          f"files={result['files']} (mirror built in {result['mirror_s']:.1f} s), rows={result.get('rows')}")


def peak_rss(result: dict) -> float:
    return max(result["backfill_rss"], result.get("noop_rss", 0))


def per_session(result: dict, key: str) -> float:
    """Seconds per session; for a backfill stopped by --timeout, over the days it finished."""
    if key == "backfill_s" and not result["finished"]:
        return result[key] / result["done_days"] if result["done_days"] else float("inf")
    return result[key] / result["days"]


def summary_line(result: dict, growth: float | None) -> str:
    line = (f"backfill_s={result['backfill_s']:.2f} baseline_s={result['baseline_s']:.2f} "
            f"ratio={result['backfill_s'] / result['baseline_s']:.2f} noop_s={result.get('noop_s', float('nan')):.2f} "
            f"peak_rss_mb={peak_rss(result):.0f} days={result['days']} rows={result.get('rows', 0)}")
    return line + (f" growth={growth:.2f}" if growth is not None else "")


def growth_table(results: list[dict]) -> str:
    """The growth table in Markdown, as BENCHMARKS.md quotes it."""
    lines = ["| sessions | first day | pipeline | per session | bare script | per session | ratio | no-op rerun "
             "| peak RSS |", "|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        done = "" if r["finished"] else f" ({r['done_days']:,} of {r['days']:,} days, then stopped)"
        noop = f"{r['noop_s']:.2f} s" if r["finished"] else "-"
        pipeline = per_session(r, "backfill_s")
        lines.append(
            f"| {r['days']:,} | {r['first']} | {r['backfill_s']:.1f} s{done} | {pipeline * 1000:,.1f} ms | "
            f"{r['baseline_s']:.1f} s | {per_session(r, 'baseline_s') * 1000:.1f} ms | "
            f"{pipeline / per_session(r, 'baseline_s'):.2f} | {noop} | {peak_rss(r):.0f} MB |")
    return "\n".join(lines)


def parse_ranges(text: str) -> list[int]:
    return [NAMED_RANGES[token] if token in NAMED_RANGES else int(token) for token in text.split(",")]


def run_all(ranges: list[int], datasets: list[str], work: Path, args, results: list) -> None:
    for count in ranges:
        days = mirror.trading_days(count, args.end)
        folder = work / f"range-{len(days)}"
        if len(ranges) > 1:
            print(f"== {len(days)} sessions, {days[0]} .. {days[-1]}", flush=True)
        results.append(run_range(days, datasets, folder, args))
        print_range(results[-1], datasets)
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--days", type=int, default=YEAR, help="sessions to backfill (default 248; 7757 or more: "
                                                               "the full history from 1994-11-03)")
    parser.add_argument("--end", type=date.fromisoformat, help="last day of the range (default: around 2024-07-08)")
    parser.add_argument("--datasets", default="cm", help="comma-separated, of cm,fo,delivery (default cm)")
    parser.add_argument("--growth", metavar="RANGES", help="ranges to run in turn, e.g. 21,248,992,full "
                                                           "(month, year, 4y, full also work)")
    parser.add_argument("--workers", type=int, default=1, help="Luigi workers for the backfill (default 1)")
    parser.add_argument("--tracking", choices=["on", "off"], default="on", help="MLflow on (default) or off")
    parser.add_argument("--timeout", type=float, help="stop a backfill after this many seconds and report how far "
                                                      "it got")
    parser.add_argument("--dir", help="work folder (default: a fresh one under /dev/shm); deleted unless --keep")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--local-archive", action="store_true",
                        help="backfill from the same files in a local folder, offline (NSE_LOCAL_ARCHIVE)")
    args = parser.parse_args(argv)
    datasets = args.datasets.split(",")

    base = args.dir or tempfile.mkdtemp(prefix="nse-bench-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    work = Path(base)
    ranges = parse_ranges(args.growth) if args.growth else [args.days]
    results = []
    try:
        run_all(ranges, datasets, work, args, results)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    growth = None
    if len(results) > 1:
        reference = next((r for r in results if r["days"] == YEAR), min(results, key=lambda r: r["days"]))
        longest = max(results, key=lambda r: r["days"])
        growth = per_session(longest, "backfill_s") / per_session(reference, "backfill_s")
        print(growth_table(results))
        print(f"growth: {longest['days']} sessions against {reference['days']}, time per session of the pipeline"
              + ("" if longest["finished"] else " (the longest range was stopped: over the days it finished)"))
    print(summary_line(max(results, key=lambda r: r["days"]), growth))
    return 0


if __name__ == "__main__":
    sys.exit(main())
