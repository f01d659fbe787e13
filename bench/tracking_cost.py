"""`python -m bench.tracking_cost [--repeat N] [--resident]`: what MLflow adds to a one-day (nightly) run.

Each repetition takes a fresh DATA_DIR, runs `luigi --module luigi_tasks BhavcopyETL` for one day
through the real entry point (CM, embedded ClickHouse, the local mirror), then a second day into
the same DATA_DIR: the first run also creates the sqlite MLflow store under DATA_DIR, the second
is the nightly case (the store exists). The same with MLflow off; on and off alternate. Prints the
medians and, on the last line, `resident= first_on_s= first_off_s= nightly_on_s= nightly_off_s= nightly_extra_s=`.
It checks that every run with MLflow on left its run, with its metrics, in the store.

`--resident` starts the resident writer (`python -m luigi_tasks mlflow-writer`) once, before the
first run, and stops it by its PID at the end: the runs hand their MLflow runs to it. Without it
the runs start their own writer child (`MLFLOW_RESIDENT_WRITER=false`).
"""
import argparse
import contextlib
import os
import shutil
import statistics
import sys
import tempfile
from datetime import date
from pathlib import Path

from . import mirror
from .__main__ import timed

from tests.nse_server import NSEServer
from tests.support import running_mlflow_writer

DAYS = [date(2025, 6, 18), date(2025, 6, 19)]


def one_day(day: date, env: dict) -> float:
    seconds, _, completed = timed([sys.executable, "-m", "luigi", "--module", "luigi_tasks", "BhavcopyETL",
                                   "--date", day.isoformat(), "--datasets", '["cm"]', "--local-scheduler",
                                   "--log-level", "WARNING"], env)
    if completed.returncode != 0:
        raise SystemExit(f"the run of {day} failed:\n{completed.stdout[-3000:]}")
    return seconds


def check_runs(data_dir: Path) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{data_dir / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("nse-bhavcopy-etl").experiment_id])
    found = sorted((run.data.tags["trade_date"], "load_duration_seconds" in run.data.metrics) for run in runs)
    if found != [(day.isoformat(), True) for day in DAYS]:
        raise SystemExit(f"MLflow store holds {found}, expected a run with its metrics per day")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tracking_cost")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--resident", action="store_true", help="runs hand their MLflow runs to a resident writer")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="nse-tracking-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None))
    files, _, _ = mirror.write(DAYS, ["cm"], work / "mirror")
    times = {(case, tracking): [] for case in ("first", "nightly") for tracking in ("on", "off")}
    base = {key: value for key, value in os.environ.items()
            if not key.startswith(("CLICKHOUSE_", "MLFLOW_", "CHDB_", "LUIGI_CONFIG"))}
    base.update(MLFLOW_WRITER_SOCKET=str(work / "mlflow-writer.sock"), MLFLOW_RESIDENT_WRITER=str(args.resident).lower())
    with NSEServer(files) as server, \
            (running_mlflow_writer(work / "mlflow-writer.sock", base) if args.resident else contextlib.nullcontext()):
        for repetition in range(args.repeat):
            for tracking in ("on", "off"):
                data_dir = work / f"data-{tracking}-{repetition}"
                env = {**base, "DATA_DIR": str(data_dir), "NSE_BASE_URL": server.url,
                       "MLFLOW_ENABLED": str(tracking == "on").lower()}
                times["first", tracking].append(one_day(DAYS[0], env))
                times["nightly", tracking].append(one_day(DAYS[1], env))
                if tracking == "on":
                    check_runs(data_dir)
                shutil.rmtree(data_dir)
    shutil.rmtree(work, ignore_errors=True)
    medians = {key: statistics.median(values) for key, values in times.items()}
    for (case, tracking), values in times.items():
        print(f"{case:8} MLflow {tracking:3}: median {medians[case, tracking]:.2f} s  "
              f"({', '.join(f'{v:.2f}' for v in values)})")
    print(f"resident={str(args.resident).lower()} "
          f"first_on_s={medians['first', 'on']:.2f} first_off_s={medians['first', 'off']:.2f} "
          f"nightly_on_s={medians['nightly', 'on']:.2f} nightly_off_s={medians['nightly', 'off']:.2f} "
          f"nightly_extra_s={medians['nightly', 'on'] - medians['nightly', 'off']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
