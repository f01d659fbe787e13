"""Every path under DATA_DIR, decided by the dataset and the date alone.

Tasks, `bulk_complete` and the status command all ask here, so they agree on what exists.
Each stage keeps one flat folder per dataset, so checking a year of dates is one listing.
"""
import os
from datetime import date
from pathlib import Path

from .datasets import DATASETS
from .errors import OutsideDataDirError


def lake_name(dataset: str) -> str:
    return DATASETS[dataset].table


def _dated(root: Path, stage: str, dataset: str, day: date, suffix: str) -> Path:
    return root / stage / dataset / f"{day.isoformat()}{suffix}"


def raw_path(root: Path, dataset: str, day: date) -> Path:
    """The file exactly as NSE served it; NSE's own name and the URL are in the sidecar."""
    return _dated(root, "raw", dataset, day, DATASETS[dataset].raw_suffix)


def raw_sidecar_path(root: Path, dataset: str, day: date) -> Path:
    return _dated(root, "raw", dataset, day, ".json")


def staging_path(root: Path, dataset: str, day: date) -> Path:
    return _dated(root, "staging", dataset, day, ".parquet")


def normalized_path(root: Path, dataset: str, day: date) -> Path:
    return _dated(root, "normalized", dataset, day, ".parquet")


def rejects_path(root: Path, dataset: str, day: date) -> Path:
    return _dated(root, "rejects", dataset, day, ".parquet")


def lake_root(root: Path, dataset: str) -> Path:
    return root / "lake" / lake_name(dataset)


def lake_path(root: Path, dataset: str, day: date) -> Path:
    """Hive partitions year=/month=/day=, one zstd file per day."""
    partition = f"year={day.year:04d}/month={day.month:02d}/day={day.day:02d}"
    return lake_root(root, dataset) / partition / f"{lake_name(dataset)}-{day.isoformat()}.parquet"


def loaded_marker_path(root: Path, dataset: str, day: date) -> Path:
    return _dated(root, "loaded", dataset, day, ".json")


def chdb_path(root: Path) -> Path:
    return root / "clickhouse"


def mlflow_path(root: Path) -> Path:
    return root / "mlflow.db"


def inside(root: Path, path) -> Path:
    """`path`, once no symlink along it (dangling or not) leads out of `root`; every write under
    DATA_DIR asks here first. `root` itself may be a symlink: it is where the data lives."""
    real_root, real = os.path.realpath(root), os.path.realpath(path)
    if os.path.commonpath([real_root, real]) != real_root:
        raise OutsideDataDirError(f"{path} leads to {real}, outside DATA_DIR ({real_root}), through a symlink; "
                                  "nothing is written there: remove the link")
    return Path(path)


def dates_in(folder: Path, suffix: str) -> set[date]:
    """Dates with a finished file in one stage folder: one listing, hidden temp files ignored."""
    try:
        names = [entry.name for entry in folder.iterdir()]
    except FileNotFoundError:
        return set()
    found = set()
    for name in names:
        if name.endswith(suffix) and not name.startswith("."):
            try:
                found.add(date.fromisoformat(name[: -len(suffix)]))
            except ValueError:
                continue
    return found


def lake_dates(root: Path, dataset: str) -> set[date]:
    """Dates with a published lake file: one walk of the partition folders."""
    prefix, found = f"{lake_name(dataset)}-", set()
    for folder, _, files in os.walk(lake_root(root, dataset)):
        for name in files:
            if name.startswith(prefix) and name.endswith(".parquet"):
                try:
                    day = date.fromisoformat(name[len(prefix): -len(".parquet")])
                except ValueError:
                    continue
                if Path(folder) / name == lake_path(root, dataset, day):
                    found.add(day)
    return found


# Every stage's output in pipeline order: (task name, path function).
STAGES = [
    ("DownloadBhavcopy", raw_path),
    ("ParseBhavcopy", staging_path),
    ("NormalizeBhavcopy", normalized_path),
    ("NormalizeBhavcopy", rejects_path),
    ("WriteParquet", lake_path),
    ("LoadClickHouse", loaded_marker_path),
]


def downstream(stage: str, root: Path, dataset: str, day: date) -> list[Path]:
    """Outputs of the stages after `stage`, which a rerun of `stage` makes stale."""
    names = [name for name, _ in STAGES]
    after = len(names) - names[::-1].index(stage)
    return [path_for(root, dataset, day) for _, path_for in STAGES[after:]]


def stages(load: bool) -> list:
    return STAGES if load else [stage for stage in STAGES if stage[0] != "LoadClickHouse"]


def complete_dates(root: Path, dataset: str, load: bool) -> set[date]:
    """Dates whose every stage output exists: one listing per stage folder."""
    done = None
    for _, path_for in stages(load):
        if path_for is lake_path:
            found = lake_dates(root, dataset)
        else:
            sample = path_for(root, dataset, date(2000, 1, 1))
            found = dates_in(sample.parent, sample.name[len("2000-01-01"):])
        done = found if done is None else done & found
    return done
