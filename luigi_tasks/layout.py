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


# The stages' own files are Arrow IPC (lake.stage_bytes); the lake alone is Parquet. A `.parquet`
# file left in these folders by an older version is not a target: the day is parsed again from raw.
STAGE_SUFFIX = ".arrow"


def staging_path(root: Path, dataset: str, day: date) -> Path:
    return _dated(root, "staging", dataset, day, STAGE_SUFFIX)


def normalized_path(root: Path, dataset: str, day: date) -> Path:
    return _dated(root, "normalized", dataset, day, STAGE_SUFFIX)


def rejects_path(root: Path, dataset: str, day: date) -> Path:
    return _dated(root, "rejects", dataset, day, STAGE_SUFFIX)


def lake_root(root: Path, dataset: str) -> Path:
    return root / "lake" / lake_name(dataset)


def lake_path(root: Path, dataset: str, day: date) -> Path:
    """Hive partitions year=/month=/day=, one zstd file per day.

    Values are unpadded (`month=6`): DuckDB types a zero-padded `month=06` as VARCHAR, so
    `WHERE month = 6` would match nothing there; unpadded, DuckDB, polars, pyarrow and pandas all
    read integers (measured; `migrate_lake.py` moves a padded lake).
    """
    partition = f"year={day.year}/month={day.month}/day={day.day}"
    return lake_root(root, dataset) / partition / f"{lake_name(dataset)}-{day.isoformat()}.parquet"


def loaded_marker_path(root: Path, dataset: str, day: date) -> Path:
    return _dated(root, "loaded", dataset, day, ".json")


def chdb_path(root: Path) -> Path:
    return root / "clickhouse"


def seal_path(path: Path) -> Path:
    """The hidden seal beside a data file (targets.SealedTarget): bytes, sha256, rows."""
    return path.parent / f".{path.name}.seal.json"


def mlflow_path(root: Path) -> Path:
    return root / "mlflow.db"


def mlflow_writer_socket(root: Path) -> Path:
    return root / "mlflow-writer.sock"


def inside(root: Path, path) -> Path:
    """`path`, once no symlink along it (dangling or not) leads out of `root`; every write under
    DATA_DIR asks here first. `root` itself may be a symlink: it is where the data lives."""
    real_root, real = os.path.realpath(root), os.path.realpath(path)
    if os.path.commonpath([real_root, real]) != real_root:
        raise OutsideDataDirError(f"{path} leads to {real}, outside DATA_DIR ({real_root}), through a symlink; "
                                  "nothing is written there: remove the link")
    return Path(path)


def dates_in(folder: Path, suffix: str, sealed: bool = False) -> set[date]:
    """Dates with a finished file in one stage folder: one listing, hidden temp files ignored.

    `sealed` also asks for the file's seal (`.<date><suffix>.seal.json`, in the same listing).
    """
    try:
        names = {entry.name for entry in folder.iterdir()}
    except FileNotFoundError:
        return set()
    found = set()
    for name in names:
        if name.endswith(suffix) and not name.startswith("."):
            if sealed and f".{name}.seal.json" not in names:
                continue
            try:
                found.add(date.fromisoformat(name[: -len(suffix)]))
            except ValueError:
                continue
    return found


def lake_dates(root: Path, dataset: str) -> set[date]:
    """Dates with a published, sealed lake file: one walk of the partition folders."""
    prefix, found = f"{lake_name(dataset)}-", set()
    for folder, _, files in os.walk(lake_root(root, dataset)):
        names = set(files)
        for name in files:
            if name.startswith(prefix) and name.endswith(".parquet") and f".{name}.seal.json" in names:
                try:
                    day = date.fromisoformat(name[len(prefix): -len(".parquet")])
                except ValueError:
                    continue
                if Path(folder) / name == lake_path(root, dataset, day):
                    found.add(day)
    return found


def closed_path(root: Path, dataset: str, day: date) -> Path:
    """A recorded closure: NSE served nothing for a day the calendar only guessed was a session."""
    return _dated(root, "closed", dataset, day, ".json")


def holiday_list_path(root: Path) -> Path:
    """NSE's holiday list as last fetched (nse_holidays.py)."""
    return root / "calendar" / "holiday-master.json"
