"""`python -m luigi_tasks status|verify|adopt`: what exists for each date, and whether it is whole.

status: one line per date from names, sizes and seals; exit 0 only if every session is done.
verify: every file re-read against its seal; exit 1 if anything is corrupt.
adopt: seal the files of days written before seals existed (once, after an upgrade).
migrate-lake: move a lake with zero-padded partitions (month=06) to the unpadded layout.
actions --check: every split, bonus and consolidation in the lake against the prices around its
ex-date, and every large overnight gap no action explains; exit 1 if any contradicts or is unexplained.
mlflow-writer: the resident MLflow writer (mlflow_writer.py --serve) on `[tracking] writer_socket`.
"""
import argparse
import sys
from datetime import date, timedelta


def _range_arguments(command, required: bool) -> None:
    from .datasets import DATASETS

    command.add_argument("--start", type=date.fromisoformat, required=required,
                         help="first date, YYYY-MM-DD" + ("" if required else "; default: the first on disk"))
    command.add_argument("--stop", type=date.fromisoformat, required=required,
                         help="end date, exclusive as in RangeDaily" + ("" if required else "; default: after the last on disk"))
    command.add_argument("--dataset", action="append", choices=sorted(DATASETS),
                         help="dataset to show (repeatable); default: [BhavcopyETL] datasets")
    command.add_argument("--load-to-clickhouse", choices=["true", "false"],
                         help="count a date done only once loaded; default: [BhavcopyETL] load_to_clickhouse")


def _dates_on_disk(root, datasets) -> list[date]:
    from . import layout

    found = set()
    for dataset in datasets:
        found |= layout.dates_in(layout.raw_sidecar_path(root, dataset, date(2000, 1, 1)).parent, ".json")
    return sorted(found)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m luigi_tasks")
    commands = parser.add_subparsers(dest="command", required=True)
    status = commands.add_parser("status", help="what exists for each date (done, missing, corrupt, closed, late, unknown, not-due)")
    _range_arguments(status, required=True)
    status.add_argument("--by", choices=["month", "year"], help="one line per month or year and dataset; runs of complete ones share a line")
    status.add_argument("--json", action="store_true", help="the same facts as JSON, for monitoring")
    status.add_argument("--html", metavar="FILE", help="also write a coverage page (heat-map per dataset) to FILE")
    _range_arguments(commands.add_parser("verify", help="re-read every file against its seal; exit 1 if any is corrupt"),
                     required=False)
    _range_arguments(commands.add_parser("adopt", help="seal the files of days written before seals existed"),
                     required=False)
    migrate = commands.add_parser("migrate-lake", help="move lake files from month=06/day=08 to month=6/day=8")
    migrate.add_argument("--dataset", action="append", help="dataset to move (repeatable); default: all")
    actions = commands.add_parser("actions", help="corporate actions: --check them against the lake's prices")
    actions.add_argument("--check", action="store_true", required=True,
                         help="list every action's price check and every unexplained gap")
    actions.add_argument("--start", type=date.fromisoformat, help="first ex-date, YYYY-MM-DD; default: the lake's first")
    actions.add_argument("--stop", type=date.fromisoformat, help="end date, exclusive; default: after the lake's last")
    writer = commands.add_parser("mlflow-writer", help="keep an MLflow writer resident: runs find it on its socket "
                                                       "and skip MLflow's import")
    writer.add_argument("--socket", help="Unix socket to listen on; default: [tracking] writer_socket")
    args = parser.parse_args(argv)
    if args.command == "mlflow-writer":
        return _mlflow_writer(args.socket)
    if args.command == "actions":
        return _check_actions(args.start, args.stop)

    from .config import storage
    from .run_calendar import is_session, need
    from .tasks import BhavcopyETL

    root = storage().root
    if args.command == "migrate-lake":
        return _migrate_lake(root, args.dataset)
    etl = BhavcopyETL(date=args.start or date.today())  # luigi.cfg's [BhavcopyETL] decides what "done" means
    datasets = args.dataset or list(etl.datasets)
    load = etl.load_to_clickhouse if args.load_to_clickhouse is None else args.load_to_clickhouse == "true"
    if args.start is None or args.stop is None:
        on_disk = _dates_on_disk(root, datasets)
        if not on_disk:
            print(f"nothing under {root} to {args.command}")
            return 0
        args.start = args.start or on_disk[0]
        args.stop = args.stop or on_disk[-1] + timedelta(days=1)
    if args.command == "status":
        return _status(root, datasets, args, need, load)
    if args.command == "verify":
        from .verify import report
    else:
        from .verify import adopt_range as report
    lines, ok = report(root, datasets, args.start, args.stop, is_session, load)
    print("\n".join(lines))
    return 0 if ok else 1


def _status(root, datasets, args, need, load) -> int:
    from . import coverage, status

    statuses = status.day_statuses(root, datasets, args.start, args.stop, need, load)
    if args.html:
        with open(args.html, "w", encoding="utf-8") as handle:
            handle.write(coverage.page(statuses, coverage.title_for(args.start, args.stop)))
    if args.json:
        print(coverage.as_json(statuses, args.by))
    elif args.by:
        print("\n".join([p.line() for p in coverage.merged(coverage.periods(statuses, args.by))]
                        + [status.summary(statuses, args.start, args.stop)]))
    else:
        print("\n".join([s.line() for s in statuses] + [status.summary(statuses, args.start, args.stop)]))
    return 0 if status.all_done(statuses) else 1


def _migrate_lake(root, datasets) -> int:
    from .datasets import DATASETS
    from .migrate_lake import migrate

    left = 0
    for dataset in datasets or list(DATASETS):
        moved, notes = migrate(root, dataset)
        print("\n".join([*notes, f"{dataset}: {moved} lake files moved, {len(notes)} left in place"]))
        left += len(notes)
    return 1 if left else 0


def _mlflow_writer(path: str | None) -> int:
    """Becomes the writer (same PID, for systemd and whoever stops it), without Luigi in memory."""
    import os
    from pathlib import Path

    from . import mlflow_writer
    from .config import tracking

    path = path or tracking().socket_path
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    argv, env = mlflow_writer.command("--serve", path)
    sys.stdout.flush()
    os.execve(argv[0], argv, env)


def _check_actions(start: date | None, stop: date | None) -> int:
    from . import actions_check, layout
    from .actions_task import check_days
    from .config import storage
    from .run_calendar import is_session

    root = storage().root
    days = [day for day in layout.lake_dates(root, "cm")
            if (start is None or day >= start) and (stop is None or day < stop)]
    findings = check_days(root, days, is_session)
    print("\n".join(finding.line() for finding in findings))
    counts = actions_check.summary(findings)
    print(f"summary: {len(days)} session(s); {counts['check_actions']} action(s) checked, "
          f"{counts['check_contradicted']} contradict their factor, {counts['check_not_traded']} not traded; "
          f"{counts['check_unexplained_gaps']} unexplained gap(s)")
    return 1 if counts["check_contradicted"] or counts["check_unexplained_gaps"] else 0


if __name__ == "__main__":
    sys.exit(main())
