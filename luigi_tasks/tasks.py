"""One Luigi task per stage, and BhavcopyETL over them. Each only wires: inputs, one output path,
one pure function, metrics. The calendar is run_calendar.py's, NSE's files nse_access.py's, and
the gates that decide whether a day can run at all gates.py's.

Stage outputs are `AtomicLocalTarget`s under DATA_DIR (paths from `layout.py`); a target's
existence is what says a stage is done, so deleting one reruns that stage and its dependants.
Tasks record counts in `self.metrics`; `metrics.py` adds durations and sends both to MLflow.
"""
import functools
import logging
import os
import time
from datetime import date

import luigi

from . import adjust, batch_run, download, handoff, lake, layout, nse_access, rawfile, source, stages, warehouse
from .config import batch, clickhouse, nse, retries, storage
from .datasets import DATASETS
from .errors import BhavcopyError, ExplainedError, NoFileError
from .gates import day_requires
from .parameters import DayOrDays, ParamsOnce, day_parameters
from .run_calendar import default_trade_date, is_session, need, why
from .targets import AtomicLocalTarget, SealedTarget, stage_target

logger = logging.getLogger("luigi-interface")


def explained(exception) -> str | None:
    """The one line an ExplainedError says, for the scheduler, the visualiser and failure e-mails."""
    return str(exception) if isinstance(exception, ExplainedError) else None


class DayTask(ParamsOnce, luigi.Task):
    """A stage of one dataset on one trading day."""

    priority = 2  # above the loads (LoadClickHouse) and the day's checks (actions_task.CheckActions)

    date, dataset = day_parameters()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.metrics: dict[str, float] = {}

    @property
    def days(self) -> tuple:
        """The task's days: its date, or the dates Luigi batched into one run of it."""
        return self.date if isinstance(self.date, tuple) else (self.date,)

    def day_metrics(self) -> dict:
        """What each day's MLflow run gets from this task (metrics.py)."""
        return {self.date: self.metrics}

    def unfinished_days(self) -> tuple:
        """The days a failure of this task leaves not done: its one day, for a stage of one day."""
        return self.days

    @functools.cached_property
    def root(self):
        return storage().root

    @functools.cached_property
    def upstream(self) -> list:
        return luigi.task.flatten(self.requires())

    @property
    def spec(self):
        """This task's dataset: routes, formats, schema and rules."""
        return DATASETS[self.dataset]

    @functools.cached_property
    def _targets(self) -> dict:
        """Targets by path function: Luigi asks for a task's output() dozens of times a run, and a
        target is only its paths (existence is asked of the disk each time)."""
        return {}

    def _kept(self, path_for, make):
        if path_for not in self._targets:
            self._targets[path_for] = make()
        return self._targets[path_for]

    def target(self, path_for, day=None) -> AtomicLocalTarget:
        day = self.date if day is None else day
        return self._kept((path_for, day), lambda: AtomicLocalTarget(str(path_for(self.root, self.dataset, day)),
                                                                     root=self.root))

    def sealed(self, path_for) -> SealedTarget:
        """The stage's data file with its seal, as `stages.STAGES` places it."""
        def make():
            output = next(output for output in stages.STAGES if output.path is path_for)
            return stage_target(output, self.root, self.dataset, self.date)

        return self._kept(path_for, make)

    @property
    def attempts_setting(self) -> str:
        """The `[retries]` option that bounds this stage's attempts (stages.py)."""
        return stages.named(self.task_family).setting

    def complete(self):
        """Done when this output and every upstream output exist.

        Luigi alone only looks at the last output, so deleting an upstream target (say the lake
        file) would go unnoticed once the day is loaded; here it reruns that stage and those after.
        """
        return super().complete() and all(task.complete() for task in self.upstream)

    @functools.cached_property
    def retry_count(self):
        """Luigi's per-task retry policy, read from `[retries]` in luigi.cfg once per task, as `root` is
        (Luigi asks twice as each task is scheduled, and a section costs about 0.1 ms to read)."""
        return getattr(retries(), self.attempts_setting)

    def invalidate(self) -> None:
        """Mark this stage and every later one as to be redone, keeping their data in place.

        Called only once this stage's new output has passed its checks, just before it replaces the
        old one: a failed redo leaves the lake file, ClickHouse's rows and the load marker as they
        were, and a kill after this point leaves the later stages undone, so the next run finishes
        the redo.
        """
        for path in stages.records_from(self.task_family, self.root, self.dataset, self.date):
            path.unlink(missing_ok=True)

    def redoing(self) -> bool:
        """True if a later stage still holds data built from the output this run replaces."""
        return any(output.path(self.root, self.dataset, self.date).exists()
                   for output in stages.outputs_after(self.task_family))

    def run(self):
        """Do the stage, unless another run finished it since Luigi scheduled this one.

        Two runs of one day (a timer and an operator, overlapping backfills) would otherwise both
        redo it, and the second redo would mark the first run's later stages to redo under it.
        """
        if self.complete():
            logger.info("%s: already done by another run; nothing to do", self)
            return
        self.work()

    def work(self):
        raise NotImplementedError

    def input_table(self, target: SealedTarget):
        """The rows of the stage file before this one: the table its stage kept for exactly these bytes
        (handoff.py), else decoded from them."""
        with open(target.path, "rb") as handle:
            body = handle.read()
        kept = handoff.take(target.path, handoff.digest(body))
        return lake.read_stage(body) if kept is None else kept

    def output_table(self, target: SealedTarget, table, before_replace=None, encode=lake.stage_bytes):
        """Write `table` as `target`'s file (`encode`: its bytes) and keep it for the next stage to
        take; returns the bytes written."""
        data = encode(table)
        digest = target.replace_with(data, rows=table.num_rows, before_replace=before_replace)
        handoff.keep(target.path, digest, table)
        return data

    def on_failure(self, exception):
        return explained(exception) or super().on_failure(exception)

    def report(self, message: str, percent: int | None = None) -> None:
        """Status for the visualiser; the worker sets these callbacks, a direct run() has none."""
        if self.set_status_message:
            self.set_status_message(message)
        if percent is not None and self.set_progress_percentage:
            self.set_progress_percentage(percent)


class DownloadBhavcopy(DayTask):
    """Fetch the day's file and keep it exactly as served, but only once it has passed its checks."""

    def output(self):
        return self.sealed(layout.raw_path)

    def work(self):
        self.report(f"Downloading {self.dataset} {self.date}", 0)
        shared = self._shared_raw()
        fetched, copied_from = shared if shared is not None else (self._fetch(), None)
        digest = handoff.digest(fetched.body)
        if self._kept_already(digest):  # another run of the day kept these very bytes meanwhile
            logger.info("%s: another run kept the same file meanwhile; its later stages stand", self)
            return
        self.report(f"Checking {fetched.url} from {fetched.route} ({len(fetched.body):,} bytes)", 60)
        # a refetch that replaces a file the lake was built from proves the new one first
        checked = download.check(self.spec, self.date, fetched, nse().max_bytes, self.redoing(), copied_from)
        self.output().replace_with(fetched.body, rows=checked.rows, extra=lambda: checked.sidecar,
                                   before_replace=self.invalidate)
        if checked.sidecar["content"] == "zip" and self.spec.zipped:  # what the parse would unzip again
            handoff.keep(self.output().path, digest, (checked.member, checked.csv_bytes))
        self.report(f"Downloaded {checked.member} via {fetched.route}", 100)

    def _kept_already(self, digest: str) -> bool:
        """The raw file is there, sealed, with these bytes (SHA-256 `digest`): replacing it would
        only mark the later stages, perhaps done by the other run already, to redo. Asked before
        the checks: those bytes passed them in the run that kept them."""
        target = self.output()
        return target.exists() and target.problem(full=False) is None and target.read_seal().get("sha256") == digest

    def _fetch(self) -> source.Fetched:
        try:
            return nse_access.fetch_day(self.dataset, self.date)
        except NoFileError as error:  # say what a missing file means for this day
            raise error.explain(why(need(self.dataset, self.date), self.date))

    def _shared_raw(self) -> tuple[source.Fetched, str] | None:
        """The day's file as a dataset reading the same NSE file already holds it, whole, or None.

        The PR zip feeds `actions` and `prices52`: whichever downloads first fetches it, the other
        copies its raw file (checked against its seal) rather than asking NSE twice.
        """
        for name in self.spec.shares_raw_with:
            other = DownloadBhavcopy(date=self.date, dataset=name).output()
            if other.exists():
                body, seal, problem = other.read_checked()
                if problem is None:
                    return source.Fetched(seal["route"], seal["url"], seal["member"], body), other.path
        return None


class ParseBhavcopy(DayTask):
    """Raw zip -> typed staging table in the source's own columns."""

    def requires(self):
        return DownloadBhavcopy(date=self.date, dataset=self.dataset)

    def output(self):
        return self.sealed(layout.staging_path)

    def work(self):
        raw_file = self.input().path
        with open(raw_file, "rb") as handle:
            body = handle.read()
        zipped = rawfile.is_zip(body)
        unzipped = handoff.take(raw_file, handoff.digest(body)) if zipped else None
        member, csv_bytes = unzipped or download.member_csv(self.spec, self.date, body, raw_file, None,
                                                            nse().max_bytes, zipped=zipped)
        self.report(f"Parsing {member}", 10)
        layout_found = self.input().read_seal().get("format")  # the download's, carried by the sidecar
        table = self.spec.parse(csv_bytes, self.date, member, layout_found)
        if self.redoing():  # the normalized and lake files stay until the new rows pass the rules too
            self.spec.validate(self.spec.to_canonical(table), self.date, member)
        self.output_table(self.output(), table, before_replace=self.invalidate)
        self.metrics["raw_rows_parsed"] = table.num_rows
        self.report(f"Parsed {table.num_rows:,} rows", 100)


class NormalizeBhavcopy(DayTask):
    """Map to the canonical schema and split good rows from rejects; the counts always add up."""

    def requires(self):
        return ParseBhavcopy(date=self.date, dataset=self.dataset)

    def output(self):
        return {"rows": self.sealed(layout.normalized_path), "rejects": self.sealed(layout.rejects_path)}

    def work(self):
        staged = self.input_table(self.input())
        canonical = self.spec.to_canonical(staged)  # as many rows as staged, unless the dataset expands
        checked = self.spec.validate(canonical, self.date, self.input().path)
        if checked.good.num_rows + checked.rejects.num_rows != canonical.num_rows:
            raise RuntimeError(f"{self.date} {self.input().path}: rows lost in validation")
        outputs = self.output()
        # Rejects first: the good rows' file is what marks the stage done.
        outputs["rejects"].replace_with(lake.stage_bytes(checked.rejects), rows=checked.rejects.num_rows,
                                        before_replace=self.invalidate)
        self.output_table(outputs["rows"], checked.good)
        if checked.rejects.num_rows:
            logger.warning("%s %s: %d rows rejected, see %s", self.dataset, self.date, checked.rejects.num_rows,
                           outputs["rejects"].path)
        self.report(f"{checked.good.num_rows:,} rows kept, {checked.rejects.num_rows:,} rejected", 100)
        if checked.warning_rows:
            logger.warning("%s %s: %d rows have a price outside [low, high] (kept)", self.dataset,
                           self.date, checked.warning_rows)
        self.metrics.update(
            normalized_rows=checked.good.num_rows,
            filtered_rows=checked.rejects.num_rows,
            price_outside_range_rows=checked.warning_rows,
        )
        self.metrics.update(self.spec.counts(checked.good))


class WriteParquet(DayTask):
    """Publish the day into the Hive-partitioned lake, all at once."""

    def requires(self):
        return NormalizeBhavcopy(date=self.date, dataset=self.dataset)

    def output(self):
        return self.sealed(layout.lake_path)

    def work(self):
        table = self.input_table(self.input()["rows"])
        data = self.output_table(self.output(), table, before_replace=self.invalidate, encode=lake.table_bytes)
        self.metrics.update(rows_written=table.num_rows, parquet_size_mb=round(data.size / 1e6, 6))


class LoadClickHouse(DayTask):
    """Replace days in ClickHouse by the lake's rows; a day's marker is written only once its count agrees.

    The lake is the source of truth: a warehouse that is down fails this stage alone, and the
    next run loads whatever has no marker.

    Loads run after every other stage of a batch (their priority is below the others'), so Luigi
    hands out a batch's loads of a dataset as one run of this task (`batch_method` on the date),
    and the days new to the table go in together: one insert of whole days, up to `[clickhouse]
    insert_rows` rows. Each day still has its own marker, written as soon as its rows are checked.
    """

    date, dataset = day_parameters(DayOrDays, batch_method=tuple)
    priority = 1  # below the other stages (DayTask.priority), above the day's checks (CheckActions)
    resources = {"clickhouse": 1}  # one load at a time per scheduler; across processes, warehouse.exclusive_client

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.by_day: dict[date, dict] = {}

    @functools.cached_property
    def max_batch_size(self) -> int:
        return batch().days

    def requires(self):
        writes = [WriteParquet(date=day, dataset=self.dataset) for day in self.days]
        return writes if isinstance(self.date, tuple) else writes[0]

    def marker(self, day: date) -> AtomicLocalTarget:
        return self.target(layout.loaded_marker_path, day)

    def output(self):
        markers = [self.marker(day) for day in self.days]
        return markers if isinstance(self.date, tuple) else markers[0]

    def day_metrics(self) -> dict:
        return self.by_day

    def unfinished_days(self) -> tuple:
        return tuple(day for day in self.days if not self.marker(day).exists())

    def work(self):
        settings = clickhouse()
        table = settings.table_for(self.dataset)
        endpoint = warehouse.Endpoint(
            settings.host, settings.port, settings.user, settings.password, settings.secure,
            settings.chdb_path or str(layout.inside(self.root, layout.chdb_path(self.root))), settings.health_timeout,
            settings.lock_timeout,
        )
        lake_files, problems = {}, []

        def lake_rows():
            for day in self.unfinished_days():  # a batch's day that another run has loaded since is left
                lake_file = WriteParquet(date=day, dataset=self.dataset).output()
                data, seal, problem = lake_file.read_checked()
                if problem:
                    problems.append(BhavcopyError(day, lake_file.path, f"lake file not loaded: {problem}; "
                                                  "delete it to rebuild it from the normalized file"))
                    continue
                lake_files[day] = (lake_file.path, seal["sha256"])
                rows = handoff.take(lake_file.path, seal["sha256"])  # the rows WriteParquet wrote these bytes from
                yield day, lake.read_table(data) if rows is None else rows

        for group in warehouse.insert_groups(lake_rows(), settings.insert_rows):
            started = time.perf_counter()
            self.report(f"Loading {sum(rows.num_rows for _, rows in group)} rows of {len(group)} day(s) into "
                        f"ClickHouse", 0)

            def loaded(day, count):
                path, sha256 = lake_files[day]
                self.marker(day).write_json({
                    "date": day.isoformat(),
                    "rows": count,
                    "lake_file": path,
                    "lake_sha256": sha256,
                    "table": f"{settings.database}.{table}",
                    "clickhouse": f"{settings.host}:{settings.port}" if settings.host else "embedded chdb",
                    "duration_seconds": round((time.perf_counter() - started) / len(group), 6),  # its share
                })
                self.by_day[day] = {"rows_loaded": count}

            # The views over the loaded tables (actions, adjusted prices) follow each table's creation.
            warehouse.replace_days(endpoint, settings.database, table, group, self.spec.schema, self.spec.order_by,
                                   self.spec.low_cardinality, views=lambda client: adjust.ensure_views(client, settings),
                                   loaded=loaded)
        if problems:
            raise problems[0] if len(problems) == 1 else ExplainedError("; ".join(map(str, problems)))
        rows = sum(values["rows_loaded"] for values in self.by_day.values())
        self.report(f"Loaded {rows:,} rows of {len(self.by_day)} day(s) into {settings.database}.{table}", 100)


class LatestDueDate(DayOrDays):
    """A date parameter whose default, the latest session due, is worked out when a task is made.

    Not at import: the answer moves with the clock, and it may cost a request for NSE's list.
    """

    def _value_iterator(self, task_name, param_name):
        yield from super()._value_iterator(task_name, param_name)
        yield default_trade_date(), None


class StagesFailed(ExplainedError):
    """Stages of a BhavcopyETL run failed, their attempts spent; the message has one line for each."""


class BhavcopyETL(ParamsOnce, luigi.Task):
    """Everything for one trading day: `luigi --module luigi_tasks BhavcopyETL --date 2025-06-18`.

    What each dataset needs comes from availability.need: nothing on a closed day, before the
    dataset's first file or before the file is due; the stage chain once the file is (or may be)
    there; for a day inside its grace window whose file NSE has not served, NSEPublished (late, exit
    missing_data); for a guessed session NSE has no file for, nothing (unknown) or RecordClosed.

    The stage chains are not its requirements but what its run builds (batch_run.py): so the
    scheduler of a backfill holds one task per day, which Luigi batches (`[batch] days` a run),
    and its cost stays linear in the range. Only the gates (NSEPublished, RecordClosed) are
    requirements, since they decide whether a day can run at all.
    """

    date = LatestDueDate(description="Trade date, YYYY-MM-DD; default: the latest session due", batch_method=tuple)
    load_to_clickhouse = luigi.BoolParameter(
        default=True, parsing=luigi.BoolParameter.EXPLICIT_PARSING,
        description="Also load the day into ClickHouse (--load-to-clickhouse false for the lake alone)",
    )
    datasets = luigi.ListParameter(
        default=list(DATASETS), description='Which NSE files, e.g. --datasets \'["cm","fo"]\'; default: all'
    )
    retry_count = 1  # each stage is retried inside the run by its `[retries]`; rerunning the batch would redo them

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        unknown = [name for name in self.datasets if name not in DATASETS]
        if unknown:
            raise ValueError(f"unknown dataset(s) {unknown}; known: {sorted(DATASETS)}")
        self.failed_days: set[date] = set()  # days a stage of this run failed on (metrics finishes them)

    @property
    def max_batch_size(self) -> int:
        return batch().days

    @property
    def dates(self) -> tuple:
        """The run's days: one, or those Luigi batched together."""
        return self.date if isinstance(self.date, tuple) else (self.date,)

    @classmethod
    def bulk_complete(cls, parameter_tuples):
        """RangeDaily's question for many dates, answered with one listing of each stage folder.

        Agrees with complete(): a day needing nothing, or recorded closed, is done without a
        request; only a guessed session that is recent and has no raw file is probed.
        `cls` may be a functools.partial carrying RangeDaily's --of-params, hence `cls(date=...)`.
        """
        days = list(parameter_tuples)
        if not days:
            return []
        probe_task = cls(date=days[0])
        root = storage().root
        done = {name: stages.complete_dates(root, name, probe_task.load_to_clickhouse) for name in probe_task.datasets}
        checked = None
        if probe_task.checks_actions:
            from .actions_task import checked_dates

            checked = checked_dates(root)
        return [day for day in days
                if all(day in done[name] or not day_requires(name, day, root) for name in probe_task.datasets)
                and (checked is None or day in checked or not is_session(day) or day < DATASETS["actions"].starts)]

    def _plan(self, day: date) -> tuple[list, list]:
        """(the day's gates, its stage chains: the last stage of each dataset that needs its chain,
        and the actions check), from one day_requires per dataset."""
        final = LoadClickHouse if self.load_to_clickhouse else WriteParquet
        root = storage().root
        gates, chains = [], []
        for name in self.datasets:
            needed = day_requires(name, day, root)
            if needed is True:
                chains.append(final(date=day, dataset=name))
            else:
                gates += needed
        if self.checks_actions and is_session(day) and day >= DATASETS["actions"].starts:
            from .actions_task import CheckActions

            chains.append(CheckActions(date=day, dataset="actions"))
        return gates, chains

    def stages(self, day: date) -> list:
        """The day's stage chains (what its run builds)."""
        return self._plan(day)[1]

    def requires(self):
        return [gate for day in self.dates for gate in self._plan(day)[0]]

    def complete(self):
        plans = [self._plan(day) for day in self.dates]
        return all(task.complete() for gates, chains in plans for task in gates + chains)

    def run(self):
        chains = [task for day in self.dates for task in self.stages(day)]
        done = []

        def succeeded(task):
            if isinstance(task, DayTask):
                done.append(task)
                # not Luigi's repr of the task: it works out every parameter again (~30 µs a stage)
                self.report(f"{len(done)} stages done; last {task.task_family} {task.dataset} "
                            f"{','.join(map(str, task.days))}")

        failures, finished = batch_run.run(chains, on_success=succeeded)
        self.failed_days = {day for task, _ in failures if isinstance(task, DayTask) for day in task.unfinished_days()}
        missing = [task for task in chains if not task.complete()]
        if missing and finished and not failures:  # all ran; a run of the same days redoes one since
            logger.warning("%s: every stage ran, and another run has since begun to redo %s; that run "
                           "finishes it", self, ", ".join(map(str, missing)))
        elif missing:
            lines = list(dict.fromkeys(f"{task}: {error}" for task, error in failures))
            lines = lines or [f"{task}: not complete" for task in missing]
            raise StagesFailed(f"{len(missing)} of {len(chains)} stage chains not done: " + "; ".join(lines))

    def on_failure(self, exception):
        return explained(exception) or super().on_failure(exception)

    report = DayTask.report

    @property
    def checks_actions(self) -> bool:
        """With both the equity bhavcopy and corporate actions, the day's actions meet its prices."""
        return "cm" in self.datasets and "actions" in self.datasets


