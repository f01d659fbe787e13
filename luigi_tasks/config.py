"""Settings: `luigi.cfg` sections as `luigi.Config` classes, each value overridable by an env var.

Precedence, highest first: a value passed in code, the environment variable, the
command line (`--nse-base-url`), `luigi.cfg`, the default below. Environment wins
over the file so that a systemd unit or CI can redirect a run without editing it.
"""
import configparser
import os
import types
from pathlib import Path

import luigi
import luigi.configuration
from luigi.cmdline_parser import CmdlineParser
from luigi.parameter import ParameterVisibility

from . import layout
from .datasets import DATASETS
from .parameters import ParamsOnce
from .stages import STAGE_LIST


class Section(ParamsOnce, luigi.Config):
    """A luigi.cfg section whose parameters named in `env_vars` are read from the environment first.

    Its values are worked out once for as long as what they come from stays the same: reading a
    section costs 0.05-0.3 ms, and a backfill asks for one thousands of times (the calendar for
    every day, the retries of every stage, the store of every MLflow run). Each time, the section's
    sources are compared with those of the last read: the command line, this section and
    `[DEFAULT]` of luigi's config, and the environment variables named in `env_vars`. So a value
    set by `luigi_config`, `monkeypatch.setenv` or a reloaded luigi.cfg is seen by the next read.
    """

    env_vars: dict[str, str] = {}

    @classmethod
    def get_param_values(cls, params, args, kwargs):
        if args or kwargs:
            return cls._read(params, args, kwargs)
        sources = _sources(cls)
        last = _LAST_READ.get(cls)
        if sources is None or last is None or last[0] != sources:
            last = (sources, cls._read(params, args, kwargs))
            if sources is not None:
                _LAST_READ[cls] = last
        return list(last[1])

    @classmethod
    def _read(cls, params, args, kwargs):
        by_name = dict(params)
        kwargs = dict(kwargs)
        for name, var in cls.env_vars.items():
            value = os.environ.get(var)
            if name not in kwargs and value not in (None, ""):
                kwargs[name] = by_name[name].parse(value)
        return super().get_param_values(params, args, kwargs)


_LAST_READ: dict[type, tuple] = {}  # section class -> (its sources, its values) at its last read


def _sources(cls) -> tuple | None:
    """Everything a section's values are read from, to compare; None: read it each time.

    A value may name an environment variable (`${VAR}`, luigi's interpolation): such a section is
    read each time, as is every section of a config that is not an INI file (luigi's toml parser).
    """
    config = luigi.configuration.get_config()
    if not isinstance(config, configparser.RawConfigParser):
        return None
    family = cls.get_task_family()
    # the section's options with [DEFAULT]'s, uninterpolated (ConfigParser's public reads)
    values = tuple(config.items(family, raw=True) if config.has_section(family) else config.defaults().items())
    if any(isinstance(value, str) and "$" in value for _, value in values):
        return None
    return (config, CmdlineParser.get_instance(), values, tuple(os.environ.get(var) for var in cls.env_vars.values()))


class storage(Section):
    """Where every target lives; paths under it come from `layout.py` alone."""

    env_vars = {"data_dir": "DATA_DIR"}
    data_dir = luigi.Parameter(default="./data", description="Root of raw, staging, lake and markers (env DATA_DIR)")

    @property
    def root(self) -> Path:
        return Path(self.data_dir)


class nse(Section):
    """How we talk to NSE's archive: polite, bounded, retried."""

    env_vars = {"base_url": "NSE_BASE_URL", "web_url": "NSE_WEB_URL",
                "local_archive": "NSE_LOCAL_ARCHIVE", "offline": "NSE_OFFLINE"}
    base_url = luigi.Parameter(
        default="https://nsearchives.nseindia.com", description="Archive host (env NSE_BASE_URL)"
    )
    web_url = luigi.Parameter(
        default="https://www.nseindia.com", description="Main site, for the reports API route (env NSE_WEB_URL)"
    )
    api_min_interval = luigi.FloatParameter(default=1.0, description="Seconds between reports API requests")
    user_agent = luigi.Parameter(
        default=(
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0 Safari/537.36"
        ),
        description="NSE refuses requests without a browser-like User-Agent",
    )
    referer = luigi.Parameter(default="https://www.nseindia.com/", description="Referer header sent with every request")
    connect_timeout = luigi.FloatParameter(default=10.0, description="Seconds to connect")
    read_timeout = luigi.FloatParameter(default=30.0, description="Seconds between bytes of the answer")
    http_retries = luigi.IntParameter(
        default=3, description="urllib3 retries within one attempt, for 429, 5xx and connection errors"
    )
    backoff_factor = luigi.FloatParameter(default=1.0, description="urllib3 backoff between those retries")
    max_member_mb = luigi.IntParameter(
        default=200, description="Largest uncompressed CSV accepted; guards against zip bombs"
    )

    local_archive = luigi.Parameter(
        default="", description="Folders of NSE files you already have, searched (recursively) before NSE: "
                                "one, or several separated by ':' as in PATH (env NSE_LOCAL_ARCHIVE)"
    )
    offline = luigi.BoolParameter(default=False, parsing=luigi.BoolParameter.EXPLICIT_PARSING,
                                  description="Never ask NSE: a day not in the local archive fails (env NSE_OFFLINE)")

    @property
    def max_bytes(self) -> int:
        return self.max_member_mb * 1024 * 1024

    @property
    def archive_folders(self) -> tuple[str, ...]:
        return tuple(folder for folder in self.local_archive.split(os.pathsep) if folder.strip())


class clickhouse(Section):
    """The warehouse: embedded chdb under DATA_DIR unless CLICKHOUSE_HOST names a server."""

    env_vars = {
        "host": "CLICKHOUSE_HOST",
        "port": "CLICKHOUSE_PORT",
        "user": "CLICKHOUSE_USER",
        "password": "CLICKHOUSE_PASSWORD",
        "database": "CLICKHOUSE_DATABASE",
        "secure": "CLICKHOUSE_SECURE",
        "chdb_path": "CHDB_PATH",
    }
    host = luigi.Parameter(default="", description="Server host; empty means embedded chdb (env CLICKHOUSE_HOST)")
    port = luigi.IntParameter(default=8123, description="HTTP port (env CLICKHOUSE_PORT)")
    user = luigi.Parameter(default="default", description="Server user (env CLICKHOUSE_USER)")
    password = luigi.Parameter(
        default="",
        significant=False,
        visibility=ParameterVisibility.PRIVATE,
        description="Server password (env CLICKHOUSE_PASSWORD); never logged or shown",
    )
    database = luigi.Parameter(default="nse", description="Database of every table and view (env CLICKHOUSE_DATABASE)")
    secure = luigi.BoolParameter(default=False, parsing=luigi.BoolParameter.EXPLICIT_PARSING,
                                 description="HTTPS to the server (env CLICKHOUSE_SECURE)")
    tables = luigi.DictParameter(
        default={}, description='Tables other than the datasets\' own (Dataset.clickhouse_table, see '
                                'docs/clickhouse.md), by dataset: JSON, e.g. {"cm": "eq_bhavcopy"}')
    actions_view = luigi.Parameter(default="corporate_actions", description="View: one row per corporate action")
    adjusted_view = luigi.Parameter(default="cm_bhavcopy_adjusted",
                                    description="View: cm_bhavcopy with split/bonus/consolidation-adjusted prices")
    chdb_path = luigi.Parameter(
        default="", description="Embedded engine folder; empty means DATA_DIR/clickhouse (env CHDB_PATH)"
    )
    health_timeout = luigi.FloatParameter(default=5.0, description="Seconds for the SELECT 1 before a load")
    lock_timeout = luigi.FloatParameter(
        default=120.0, description="Seconds a load waits for another process to let go of the embedded engine"
    )
    insert_rows = luigi.IntParameter(
        default=100_000, description="Most rows in one insert: a batch's loads of days new to a table go in "
                                     "together, in inserts of whole days up to this size (memory stays bounded)"
    )

    def table_for(self, dataset: str) -> str:
        """The dataset's ClickHouse table: its own, unless `tables` names another."""
        unknown = sorted(set(self.tables) - set(DATASETS))
        if unknown:
            raise ValueError(f"[clickhouse] tables names unknown datasets {unknown}; known: {sorted(DATASETS)}")
        return self.tables.get(dataset) or DATASETS[dataset].clickhouse_table


class calendar(Section):
    """The NSE trading calendar's corrections and timing (trading_calendar.py, availability.py).

    The name must be `calendar` for Luigi to read the `[calendar]` section; it shadows the stdlib
    module only for code that imports it by that name. Lists are JSON in luigi.cfg:
    `extra_closures = ["2027-01-26"]`.
    """

    extra_sessions = luigi.ListParameter(
        default=[], description="ISO dates NSE trades on though the calendar says closed (special sessions)"
    )
    extra_closures = luigi.ListParameter(
        default=[], description="ISO dates NSE is shut (sudden closures); these beat every other source"
    )
    publish_hour_ist = luigi.IntParameter(
        default=19, description="Hour (IST, 0-23) from which today's bhavcopy is due; NSE posts around 19:00"
    )
    holiday_list = luigi.BoolParameter(
        default=True, parsing=luigi.BoolParameter.EXPLICIT_PARSING,
        description="Ask NSE's /api/holiday-master (cached a day under DATA_DIR/calendar) about the current "
                    "year and later, and days XBOM does not know",
    )
    grace_hours = luigi.FloatParameter(
        default=15.0, description="Hours after publish_hour_ist a missing file is 'late' (exit missing_data, "
                                  "no e-mail) rather than a failure; 15 = until 10:00 IST the next morning",
    )
    settle_days = luigi.FloatParameter(
        default=7.0, description="Days after publish_hour_ist a guessed session's missing file stays 'unknown' "
                                 "(asked again each run); later it is recorded as closed under DATA_DIR/closed",
    )


class tracking(Section):
    """Where run metrics go (metrics.py). MLflow being down never fails or stalls a run."""

    env_vars = {"uri": "MLFLOW_TRACKING_URI", "enabled": "MLFLOW_ENABLED",
                "resident_writer": "MLFLOW_RESIDENT_WRITER", "writer_socket": "MLFLOW_WRITER_SOCKET"}
    enabled = luigi.BoolParameter(default=True, parsing=luigi.BoolParameter.EXPLICIT_PARSING,
                                  description="Send run metrics to MLflow (env MLFLOW_ENABLED)")
    uri = luigi.Parameter(default="", description="MLflow store; empty means sqlite:///DATA_DIR/mlflow.db "
                                                   "(env MLFLOW_TRACKING_URI)")
    experiment = luigi.Parameter(default="nse-bhavcopy-etl", description="MLflow experiment name")
    request_timeout = luigi.IntParameter(default=5, description="Seconds per MLflow HTTP request")
    request_retries = luigi.IntParameter(default=0, description="MLflow HTTP retries; its default blocks ~4 min")
    drain_timeout = luigi.FloatParameter(default=60.0, description="Seconds a finished run may wait at exit "
                                                                   "for queued MLflow runs to be written")
    resident_writer = luigi.BoolParameter(
        default=True, parsing=luigi.BoolParameter.EXPLICIT_PARSING,
        description="Hand runs to a resident writer (`python -m luigi_tasks mlflow-writer`) when one listens "
                    "on writer_socket; else, or when false, a child process writes them (env MLFLOW_RESIDENT_WRITER)")
    writer_socket = luigi.Parameter(default="", description="The resident writer's Unix socket; empty means "
                                                            "DATA_DIR/mlflow-writer.sock (env MLFLOW_WRITER_SOCKET)")

    @property
    def socket_path(self) -> str:
        return self.writer_socket or str(layout.mlflow_writer_socket(storage().root))


class batch(Section):
    """How many days one BhavcopyETL run takes on in a backfill (Luigi's batching; batch_run.py)."""

    days = luigi.IntParameter(default=25, description="Days per BhavcopyETL run in a backfill; 1 turns batching off")


def _retries_body(namespace: dict) -> None:
    namespace["__doc__"] = "Attempts per stage within one run (Luigi's retry_count); the delay is `[scheduler] retry_delay`."
    for stage in STAGE_LIST:
        namespace[stage.setting] = luigi.IntParameter(default=stage.attempts, description=f"Attempts for {stage.task}")


# One option per stage of stages.py, with its default there.
retries = types.new_class("retries", (Section,), exec_body=_retries_body)
retries.__module__ = __name__


class actions(Section):
    """The corporate-actions cross-check (actions_check.py): how far a price gap may stray, as a ratio."""

    tolerance = luigi.FloatParameter(
        default=0.25, description="An action contradicts its factor when close(ex) / (close(before) x factor) "
                                  "lies outside [1/(1+t), 1+t]; NSE's price bands stop at 20%")
    unexplained_gap = luigi.FloatParameter(
        default=0.35, description="A close-to-close gap outside [1/(1+g), 1+g] with no known action is flagged")
