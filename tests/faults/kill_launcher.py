"""Run the pipeline in this (child) process, optionally dying by SIGKILL at a chosen point.

    python kill_launcher.py [--kill STAGE] [--report-before] [--report] -- [luigi arguments]

`--kill` monkeypatches one function before Luigi starts, so that the process kills itself
(SIGKILL: no cleanup, no atexit, no finally) at a real point of a stage's write:

- download, download-sidecar, parse, normalize, rejects, write: inside
  `AtomicLocalTarget.temporary_path`, when the finished temporary file is about to be renamed
  onto that stage's target. The temporary file is first cut to half its size, so the kill
  leaves what a write interrupted halfway leaves: a hidden, partial `.name.tmp-N` file.
- load: `warehouse.load_days` loads a day (ClickHouse has the rows), then the kill comes before the
  load marker is written.

`--report` prints one JSON line after the run: Luigi's exit code, the lake's rows for every
date and ClickHouse's rows and distinct (symbol, series) per date, queried in this process (which
holds the chdb folder anyway: chdb allows one process per folder). `--report-before` prints the
same before the run, so one process shows what a kill left and what the rerun made of it.
"""
import json
import os
import re
import signal
import sys

# target path pattern per stage (paths come from luigi_tasks.layout; see README "Data layout")
TARGETS = {
    "download": r"/raw/cm/\d{4}-\d\d-\d\d\.zip$",
    "download-sidecar": r"/raw/cm/\d{4}-\d\d-\d\d\.json$",
    "parse": r"/staging/cm/\d{4}-\d\d-\d\d\.arrow$",
    "rejects": r"/rejects/cm/\d{4}-\d\d-\d\d\.arrow$",
    "normalize": r"/normalized/cm/\d{4}-\d\d-\d\d\.arrow$",
    "write": r"/lake/cm_bhavcopy/year=\d{4}/month=\d{1,2}/day=\d{1,2}/cm_bhavcopy-[\d-]+\.parquet$",
}


def die() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def kill_at_rename(pattern: str) -> None:
    from luigi_tasks import targets

    real_replace = targets.os.replace

    class OsWithKill:
        """`os` as seen by targets.py, except that replace() onto a matching target kills us."""

        def __getattr__(self, name):
            return getattr(os, name)

        @staticmethod
        def replace(src, dst, *args, **kwargs):
            if re.search(pattern, os.fspath(dst)):
                size = os.path.getsize(src)
                os.truncate(src, size // 2)  # a write interrupted halfway
                print(f"KILL-LAUNCHER: SIGKILL before renaming {src} ({size // 2} of {size} bytes) onto {dst}",
                      flush=True)
                die()
            return real_replace(src, dst, *args, **kwargs)

    targets.os = OsWithKill()


def kill_after_load() -> None:
    from luigi_tasks import warehouse

    real_load_days = warehouse.load_days

    def load_days_then_die(*args, **kwargs):
        for day, loaded in real_load_days(*args, **kwargs):
            print(f"KILL-LAUNCHER: SIGKILL after loading {loaded} rows for {day}, before the marker", flush=True)
            die()
        yield from ()

    warehouse.load_days = load_days_then_die


def report() -> dict:
    from luigi_tasks import lake as lake_files, layout, warehouse
    from luigi_tasks.config import clickhouse, storage

    root = storage().root
    lake_root = layout.lake_root(root, "cm")
    lake = {}
    if lake_root.exists():
        table = lake_files.open_lake(lake_root).to_table(columns=["trade_date"])
        for day in table["trade_date"].to_pylist():
            lake[day.isoformat()] = lake.get(day.isoformat(), 0) + 1
    settings = clickhouse()
    clickhouse_rows = None
    if not settings.host:
        client = warehouse.connect(chdb_path=settings.chdb_path or str(layout.chdb_path(root)))
        table = settings.table_for("cm")
        tables = client.query(
            "SELECT count() FROM system.tables WHERE database = {db:String} AND name = {t:String}",
            parameters={"db": settings.database, "t": table},
        ).result_rows[0][0]
        clickhouse_rows = {}
        if tables:
            result = client.query(
                f"SELECT toString(trade_date), count(), uniqExact(symbol, series) "
                f"FROM `{settings.database}`.`{table}` GROUP BY trade_date"
            )
            clickhouse_rows = {day: [rows, keys] for day, rows, keys in result.result_rows}
    return {"lake": lake, "clickhouse": clickhouse_rows}


def main(argv: list[str]) -> int:
    split = argv.index("--")
    options, luigi_args = argv[:split], argv[split + 1:]
    if "--kill" in options:
        stage = options[options.index("--kill") + 1]
        if stage == "load":
            kill_after_load()
        else:
            kill_at_rename(TARGETS[stage])
    if "--report-before" in options:
        print("KILL-LAUNCHER-BEFORE " + json.dumps(report()), flush=True)
    code = 0
    if luigi_args:  # none: only report what is there
        import luigi.cmdline

        try:
            luigi.cmdline.luigi_run(luigi_args)
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
    if "--report" in options:
        print("KILL-LAUNCHER-REPORT " + json.dumps({"returncode": code, **report()}), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
