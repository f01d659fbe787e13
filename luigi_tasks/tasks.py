"""One Luigi task per stage. Each only wires: inputs, one output path, one pure function, metrics.

Stage outputs are `AtomicLocalTarget`s under DATA_DIR (paths from `layout.py`); a target's
existence is what says a stage is done, so deleting one reruns that stage and its dependants.
Tasks record counts in `self.metrics`; `metrics.py` adds durations and sends both to MLflow.
"""
import functools
import json
import logging
import os
import time
from datetime import date, datetime, timezone

import luigi

from . import lake, layout, rawfile, source, trading_calendar, warehouse
from .config import calendar, clickhouse, nse, retries, storage
from .datasets import DATASETS
from .errors import ExplainedError
from .targets import AtomicLocalTarget

logger = logging.getLogger("luigi-interface")


def _calendar_overrides() -> dict:
    settings = calendar()
    return {"extra_sessions": settings.extra_sessions, "extra_closures": settings.extra_closures}


def is_session(day: date) -> bool:
    """NSE's calendar with the `[calendar]` overrides from luigi.cfg."""
    return trading_calendar.is_session(day, **_calendar_overrides())


def default_trade_date() -> date:
    """The latest session whose file is due now (NSE publishes around 19:00 IST)."""
    return trading_calendar.previous_business_day(
        datetime.now(timezone.utc), publish_hour_ist=calendar().publish_hour_ist, **_calendar_overrides()
    )


@functools.lru_cache(maxsize=4)
def _session(user_agent: str, referer: str, retries: int, backoff: float):
    return source.make_session(user_agent, referer, retries, backoff)


@functools.lru_cache(maxsize=4)
def _web_site(web_url: str, min_interval: float):
    """One per process: its cookies and pacing are shared by every date fetched in the run."""
    return source.WebSite(web_url, min_interval)


class DayTask(luigi.Task):
    """A stage of one dataset on one trading day."""

    date = luigi.DateParameter(description="Trade date, YYYY-MM-DD")
    dataset = luigi.ChoiceParameter(choices=list(DATASETS), default="cm", description="Which NSE file")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.metrics: dict[str, float] = {}

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

    def target(self, path_for) -> AtomicLocalTarget:
        return AtomicLocalTarget(str(path_for(self.root, self.dataset, self.date)), root=self.root)

    attempts_setting = ""  # which `[retries]` option bounds this stage's attempts

    def complete(self):
        """Done when this output and every upstream output exist.

        Luigi alone only looks at the last output, so deleting an upstream target (say the lake
        file) would go unnoticed once the day is loaded; here it reruns that stage and those after.
        """
        return super().complete() and all(task.complete() for task in self.upstream)

    @property
    def retry_count(self):
        """Luigi's per-task retry policy, read from `[retries]` in luigi.cfg."""
        return getattr(retries(), self.attempts_setting)

    def _csv(self, body: bytes, file: str, member: str | None, max_bytes: int, zipped: bool) -> tuple[str, bytes]:
        """(file name, CSV bytes): the one member of NSE's zip, or the body itself for a plain CSV."""
        if zipped:
            return rawfile.read_member(body, self.date, file, member, max_bytes)
        return member or os.path.basename(file.split("?", 1)[0]), body

    def forget_downstream(self) -> None:
        """Remove the later stages' outputs before redoing this one.

        They were built from this stage's old output; left in place, a redo interrupted halfway
        (ClickHouse down, a kill) would leave them counting as done, and nothing would redo them.
        """
        for path in layout.downstream(self.task_family, self.root, self.dataset, self.date):
            path.unlink(missing_ok=True)

    def on_failure(self, exception):
        """The scheduler, the visualiser and failure e-mails get the one line an ExplainedError says."""
        if isinstance(exception, ExplainedError):
            return str(exception)
        return super().on_failure(exception)

    def report(self, message: str, percent: int | None = None) -> None:
        """Status for the visualiser; the worker sets these callbacks, a direct run() has none."""
        if self.set_status_message:
            self.set_status_message(message)
        if percent is not None and self.set_progress_percentage:
            self.set_progress_percentage(percent)


class DownloadBhavcopy(DayTask):
    """Fetch the day's file and keep it exactly as served, but only once it has passed its checks."""

    attempts_setting = "download"

    def output(self):
        return self.target(layout.raw_path)

    def run(self):
        self.forget_downstream()
        settings = nse()
        max_bytes = settings.max_bytes
        self.report(f"Downloading {self.dataset} {self.date}", 0)
        fetched = source.fetch(
            _session(settings.user_agent, settings.referer, settings.http_retries, settings.backoff_factor),
            settings.base_url,
            self.spec.routes_for(self.date),
            self.date,
            (settings.connect_timeout, settings.read_timeout),
            max_bytes,
            site=_web_site(settings.web_url, settings.api_min_interval),
        )
        # A zip is checked as NSE's zip; only the reports API may answer with the CSV itself.
        served_zip = rawfile.is_zip(fetched.body)
        csv_served = fetched.from_api and not served_zip
        member, csv_bytes = self._csv(fetched.body, fetched.url, fetched.member, max_bytes,
                                      zipped=self.spec.zipped and not csv_served)
        self.report(f"Checking {member} from {fetched.route} ({len(fetched.body):,} bytes)", 60)
        source_format = self.spec.peek(csv_bytes, self.date, member)
        sidecar = {
            "date": self.date.isoformat(),
            "dataset": self.dataset,
            "route": fetched.route,
            "url": fetched.url,
            "member": member,
            "format": source_format,
            "content": "zip" if served_zip else "csv",
            "bytes": len(fetched.body),
            "fetched_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        with self.target(layout.raw_sidecar_path).temporary_path() as path:
            with open(path, "w") as handle:
                json.dump(sidecar, handle, indent=1)
        with self.output().temporary_path() as path:
            with open(path, "wb") as handle:
                handle.write(fetched.body)
        self.report(f"Downloaded {member} via {fetched.route}", 100)


class ParseBhavcopy(DayTask):
    """Raw zip -> typed staging table in the source's own columns."""

    attempts_setting = "parse"

    def requires(self):
        return DownloadBhavcopy(date=self.date, dataset=self.dataset)

    def output(self):
        return self.target(layout.staging_path)

    def run(self):
        self.forget_downstream()
        raw_file = self.input().path
        with open(raw_file, "rb") as handle:
            body = handle.read()
        member, csv_bytes = self._csv(body, raw_file, None, nse().max_bytes, zipped=rawfile.is_zip(body))
        self.report(f"Parsing {member}", 10)
        table = self.spec.parse(csv_bytes, self.date, member)
        with self.output().temporary_path() as path:
            lake.write_table(table, path, lake.STAGING_COMPRESSION)
        self.metrics["raw_rows_parsed"] = table.num_rows
        self.report(f"Parsed {table.num_rows:,} rows", 100)


class NormalizeBhavcopy(DayTask):
    """Map to the canonical schema and split good rows from rejects; the counts always add up."""

    attempts_setting = "normalize"

    def requires(self):
        return ParseBhavcopy(date=self.date, dataset=self.dataset)

    def output(self):
        return {"rows": self.target(layout.normalized_path), "rejects": self.target(layout.rejects_path)}

    def run(self):
        self.forget_downstream()
        staged = lake.read_table(self.input().path)
        checked = self.spec.validate(self.spec.to_canonical(staged))
        if checked.good.num_rows + checked.rejects.num_rows != staged.num_rows:
            raise RuntimeError(f"{self.date} {self.input().path}: rows lost in validation")
        outputs = self.output()
        # Rejects first: the good rows' file is what marks the stage done.
        with outputs["rejects"].temporary_path() as path:
            lake.write_table(checked.rejects, path)
        with outputs["rows"].temporary_path() as path:
            lake.write_table(checked.good, path)
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


class WriteParquet(DayTask):
    """Publish the day into the Hive-partitioned lake, all at once."""

    attempts_setting = "write"

    def requires(self):
        return NormalizeBhavcopy(date=self.date, dataset=self.dataset)

    def output(self):
        return self.target(layout.lake_path)

    def run(self):
        self.forget_downstream()
        with self.output().temporary_path() as path:
            rows = lake.publish(self.input()["rows"].path, path)
        self.metrics.update(
            rows_written=rows,
            parquet_size_mb=round(os.path.getsize(self.output().path) / 1e6, 6),
        )


class LoadClickHouse(DayTask):
    """Replace the day in ClickHouse by the lake's rows; the marker is written only once counts agree.

    The lake is the source of truth: a warehouse that is down fails this stage alone, and the
    next run loads whatever has no marker.
    """

    attempts_setting = "load"
    resources = {"clickhouse": 1}  # one load at a time per scheduler; across processes, warehouse.exclusive_client

    def requires(self):
        return WriteParquet(date=self.date, dataset=self.dataset)

    def output(self):
        return self.target(layout.loaded_marker_path)

    def run(self):
        started = time.perf_counter()
        settings = clickhouse()
        rows = lake.read_table(self.input().path)
        self.report(f"Loading {rows.num_rows} rows into ClickHouse", 0)
        table = settings.table_for(self.dataset)
        with warehouse.exclusive_client(
            settings.host, settings.port, settings.user, settings.password, settings.secure,
            settings.chdb_path or str(layout.inside(self.root, layout.chdb_path(self.root))), settings.health_timeout,
            settings.lock_timeout,
        ) as client:
            warehouse.health_check(client)
            warehouse.ensure_table(client, settings.database, table, self.spec.schema, self.spec.order_by,
                                   self.spec.low_cardinality)
            self.report(f"Replacing {self.date} in {settings.database}.{table}", 30)
            loaded = warehouse.load_day(client, settings.database, table, rows, self.date)
        marker = {
            "date": self.date.isoformat(),
            "rows": loaded,
            "lake_file": self.input().path,
            "table": f"{settings.database}.{table}",
            "clickhouse": f"{settings.host}:{settings.port}" if settings.host else "embedded chdb",
            "duration_seconds": round(time.perf_counter() - started, 6),
        }
        with self.output().temporary_path() as path:
            with open(path, "w") as handle:
                json.dump(marker, handle, indent=1)
        self.metrics["rows_loaded"] = loaded
        self.report(f"Loaded {loaded:,} rows into {settings.database}.{table}", 100)


class BhavcopyETL(luigi.WrapperTask):
    """Everything for one trading day: `luigi --module luigi_tasks BhavcopyETL --date 2025-06-18`."""

    date = luigi.DateParameter(
        default=default_trade_date(), description="Trade date, YYYY-MM-DD; default: the latest session due"
    )
    load_to_clickhouse = luigi.BoolParameter(
        default=True, parsing=luigi.BoolParameter.EXPLICIT_PARSING,
        description="Also load the day into ClickHouse (--load-to-clickhouse false for the lake alone)",
    )
    datasets = luigi.ListParameter(
        default=list(DATASETS), description='Which NSE files, e.g. --datasets \'["cm","fo"]\'; default: all'
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        unknown = [name for name in self.datasets if name not in DATASETS]
        if unknown:
            raise ValueError(f"unknown dataset(s) {unknown}; known: {sorted(DATASETS)}")

    @classmethod
    def bulk_complete(cls, parameter_tuples):
        """RangeDaily's question for many dates, answered with one listing of the final stage.

        `cls` may be a functools.partial carrying RangeDaily's --of-params, hence `cls(date=...)`.
        """
        days = list(parameter_tuples)
        if not days:
            return []
        probe = cls(date=days[0])
        root = storage().root
        done = set.intersection(*(layout.complete_dates(root, name, probe.load_to_clickhouse)
                                  for name in probe.datasets))
        return [day for day in days if day in done or not is_session(day)]

    def requires(self):
        """Nothing on a day NSE is closed: such a day is complete and costs no request."""
        if not is_session(self.date):
            return []
        final = LoadClickHouse if self.load_to_clickhouse else WriteParquet
        return [final(date=self.date, dataset=name) for name in self.datasets]
