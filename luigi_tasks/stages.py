"""The stages of a dataset's day, in pipeline order, declared once.

Each stage's task family, its `[retries]` option and default, the metric its duration goes to,
and the files it writes. The tasks, `config.retries`, metrics, status, verify, tests and bench
all read this list: adding a stage is one entry here and its task class.
"""
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Callable

from .layout import (
    dates_in, lake_dates, lake_path, loaded_marker_path, normalized_path, raw_path, raw_sidecar_path, rejects_path,
    seal_path, staging_path,
)

PathFor = Callable[[Path, str, date], Path]


@dataclass(frozen=True)
class Output:
    """One file a stage writes for a day, and the record that says it is whole.

    `record` is where its seal lives: the raw file's is the visible sidecar; staging, normalized,
    rejects and lake files have a hidden seal beside them; the load marker is its own record.
    """

    stage: str
    path: PathFor
    record: PathFor

    @property
    def sealed(self) -> bool:
        return self.record is not self.path


@dataclass(frozen=True)
class Stage:
    task: str  # the Luigi task family
    setting: str  # its `[retries]` option
    attempts: int  # that option's default
    duration_metric: str  # the MLflow metric of its duration
    outputs: tuple[tuple[PathFor, PathFor | None], ...]  # (file, record; None: a hidden seal beside it)


STAGE_LIST = (
    Stage("DownloadBhavcopy", "download", 3, "scrape_duration_seconds", ((raw_path, raw_sidecar_path),)),
    Stage("ParseBhavcopy", "parse", 2, "parse_duration_seconds", ((staging_path, None),)),
    Stage("NormalizeBhavcopy", "normalize", 2, "normalize_duration_seconds",
          ((rejects_path, None), (normalized_path, None))),  # rejects first: the good rows mark it done
    Stage("WriteParquet", "write", 2, "write_duration_seconds", ((lake_path, None),)),
    Stage("LoadClickHouse", "load", 3, "load_duration_seconds", ((loaded_marker_path, loaded_marker_path),)),
)
NAMES = [stage.task for stage in STAGE_LIST]
LOAD = STAGE_LIST[-1].task  # the stage a lake-only run leaves out


def _hidden_seal(path_for):
    return lambda root, dataset, day: seal_path(path_for(root, dataset, day))


# Every stage's outputs in pipeline order.
STAGES = [Output(stage.task, path, record or _hidden_seal(path)) for stage in STAGE_LIST for path, record in stage.outputs]


def named(task: str) -> Stage:
    return STAGE_LIST[NAMES.index(task)]


def outputs_after(stage: str) -> list[Output]:
    """The outputs of the stages after `stage`, in pipeline order."""
    names = [output.stage for output in STAGES]
    return STAGES[len(names) - names[::-1].index(stage):]


def records_from(stage: str, root: Path, dataset: str, day: date) -> list[Path]:
    """The records of every stage after `stage`, then its own: removing them marks them to redo.

    Only records go, never data: the old lake file stays readable and ClickHouse keeps its rows
    until the redo replaces them.
    """
    own = [output for output in STAGES if output.stage == stage]
    return [output.record(root, dataset, day) for output in outputs_after(stage) + own]


def outputs(load: bool) -> list[Output]:
    """Every output a run makes: with the load, or for the lake alone."""
    return STAGES if load else [output for output in STAGES if output.stage != LOAD]


def complete_dates(root: Path, dataset: str, load: bool) -> set[date]:
    """Dates whose every stage output exists with its record: one listing per stage folder."""
    done = None
    for output in outputs(load):
        if output.path is lake_path:
            found = lake_dates(root, dataset)
        elif output.path is raw_path:
            sample = raw_path(root, dataset, date(2000, 1, 1))
            found = dates_in(sample.parent, sample.name[len("2000-01-01"):]) & dates_in(sample.parent, ".json")
        else:
            sample = output.path(root, dataset, date(2000, 1, 1))
            found = dates_in(sample.parent, sample.name[len("2000-01-01"):], sealed=output.sealed)
        done = found if done is None else done & found
    return done
