"""Luigi events -> one MLflow run per trade date and invocation. Tasks never import mlflow.

Stages put counts in `task.metrics`; their durations come from Luigi's PROCESSING_TIME event.
Everything for a date is buffered in this process and written in one batch when the date
ends: `BhavcopyETL` succeeds (status=success) or any of its stages fails (status=failed,
error=...). MLflow params cannot change, so every invocation that does work for a date opens a
new run named `bhavcopy-etl-<date>`, tagged `trade_date`; the newest is the current one.

MLflow is never a point of failure: requests are bounded (timeout, no retries), and after the
first failure this process stops trying and only logs a warning; the data is written anyway.
Buffering is per process, which matches Luigi's default of one worker.
"""
import logging
import os
import re
import time
from datetime import date

import luigi

from . import config
from .tasks import BhavcopyETL, DayTask

logger = logging.getLogger("luigi-interface")

DURATION_METRICS = {
    "DownloadBhavcopy": "scrape_duration_seconds",
    "ParseBhavcopy": "parse_duration_seconds",
    "NormalizeBhavcopy": "normalize_duration_seconds",
    "WriteParquet": "write_duration_seconds",
    "LoadClickHouse": "load_duration_seconds",
}
ERROR_PARAM_LIMIT = 1000

_pending: dict[date, dict[str, float]] = {}
_load_flags: dict[date, bool] = {}  # BhavcopyETL.load_to_clickhouse per date, seen at scheduling
_clients: dict[str, object] = {}
_experiments: dict[tuple[str, str], str] = {}
_disabled: dict[str, str] = {}  # tracking URI -> why this process stopped writing to it


def tracking_uri() -> str:
    uri = config.tracking().uri
    if uri:
        return uri
    return "sqlite:///" + os.path.abspath(os.path.join(config.storage().data_dir, "mlflow.db"))


def redact(text: str) -> str:
    """No secret reaches MLflow or a log: the ClickHouse password and URL credentials are masked."""
    password = config.clickhouse().password
    if password:
        text = text.replace(password, "***")
    return re.sub(r"(//[^/@\s:]+):[^/@\s]+@", r"\1:***@", text)


def _key(task) -> date | None:
    return task.date if isinstance(task, (DayTask, BhavcopyETL)) else None


@luigi.Task.event_handler(luigi.Event.DEPENDENCY_DISCOVERED)
def _on_dependency(task, dependency):
    if isinstance(task, BhavcopyETL):
        _load_flags[task.date] = task.load_to_clickhouse


@luigi.Task.event_handler(luigi.Event.PROCESSING_TIME)
def _on_processing_time(task, seconds):
    name = DURATION_METRICS.get(task.task_family)
    if name and _key(task) is not None:
        _pending.setdefault(task.date, {})[name] = round(seconds, 6)


@luigi.Task.event_handler(luigi.Event.SUCCESS)
def _on_success(task):
    if isinstance(task, DayTask):
        _pending.setdefault(task.date, {}).update(task.metrics)
    elif isinstance(task, BhavcopyETL):
        _finish(task.date, "success", None)


@luigi.Task.event_handler(luigi.Event.FAILURE)
def _on_failure(task, exception):
    if _key(task) is not None:
        _finish(task.date, "failed", f"{task.task_family}: {exception}")


def _finish(day: date, status: str, error: str | None) -> None:
    # A failed stage may be retried in this run: keep what the other stages measured for that run.
    metrics = _pending.pop(day, {}) if status == "success" else dict(_pending.get(day, {}))
    if not config.tracking().enabled:
        return
    params = {
        "trade_date": day.isoformat(),
        "load_to_clickhouse": str(_load_flags.get(day, BhavcopyETL(date=day).load_to_clickhouse)).lower(),
        "clickhouse_table": config.clickhouse().cm_table,
        "status": status,
    }
    if error:
        params["error"] = redact(error)[:ERROR_PARAM_LIMIT]
    log_run(day, params, metrics, status)


def log_run(day: date, params: dict[str, str], metrics: dict[str, float], status: str) -> str | None:
    """Write one finished run; return its id, or None when MLflow is off or unreachable."""
    uri = tracking_uri()
    if uri in _disabled:
        return None
    settings = config.tracking()
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(settings.request_timeout))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", str(settings.request_retries))
    try:
        from mlflow.entities import Metric, Param
        from mlflow.tracking import MlflowClient

        client = _clients.get(uri) or _clients.setdefault(uri, MlflowClient(tracking_uri=uri))
        experiment_id = _experiment_id(client, uri, settings.experiment)
        run = client.create_run(experiment_id, run_name=f"bhavcopy-etl-{day.isoformat()}",
                                tags={"trade_date": day.isoformat()})
        now = int(time.time() * 1000)
        client.log_batch(
            run.info.run_id,
            metrics=[Metric(name, float(value), now, 0) for name, value in sorted(metrics.items())],
            params=[Param(name, value) for name, value in params.items()],
        )
        client.set_terminated(run.info.run_id, "FINISHED" if status == "success" else "FAILED")
        return run.info.run_id
    except Exception as exc:  # noqa: BLE001 - MLflow must never fail the pipeline
        _disabled[uri] = f"{exc.__class__.__name__}: {exc}"
        logger.warning("MLflow at %s is unavailable, metrics for %s and later dates in this run are not "
                       "recorded; the data is written regardless (%s)", redact(uri), day,
                       redact(_disabled[uri])[:300])
        return None


def _experiment_id(client, uri: str, name: str) -> str:
    key = (uri, name)
    if key not in _experiments:
        experiment = client.get_experiment_by_name(name)
        _experiments[key] = experiment.experiment_id if experiment else client.create_experiment(name)
    return _experiments[key]
