"""`python -m luigi_tasks status --start D --stop D`: one line per date, exit 0 only if all are done."""
import argparse
import sys
from datetime import date


def main(argv=None) -> int:
    from .datasets import DATASETS

    parser = argparse.ArgumentParser(prog="python -m luigi_tasks")
    commands = parser.add_subparsers(dest="command", required=True)
    status = commands.add_parser("status", help="what exists for each date (done, missing, closed, late, unknown, not-due)")
    status.add_argument("--start", type=date.fromisoformat, required=True, help="first date, YYYY-MM-DD")
    status.add_argument("--stop", type=date.fromisoformat, required=True,
                        help="end date, exclusive as in RangeDaily")
    status.add_argument("--dataset", action="append", choices=sorted(DATASETS),
                        help="dataset to show (repeatable); default: [BhavcopyETL] datasets")
    status.add_argument("--load-to-clickhouse", choices=["true", "false"],
                        help="count a date done only once loaded; default: [BhavcopyETL] load_to_clickhouse")
    args = parser.parse_args(argv)

    from .config import storage
    from .status import report
    from .tasks import BhavcopyETL, need

    etl = BhavcopyETL(date=args.start)  # luigi.cfg's [BhavcopyETL] decides what "done" means
    load = etl.load_to_clickhouse if args.load_to_clickhouse is None else args.load_to_clickhouse == "true"
    lines, all_done = report(storage().root, args.dataset or list(etl.datasets), args.start, args.stop,
                             need, load)
    print("\n".join(lines))
    return 0 if all_done else 1


if __name__ == "__main__":
    sys.exit(main())
