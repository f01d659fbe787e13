"""Luigi events -> one MLflow run per trade date and invocation. Tasks never import mlflow.

Stages put counts in `task.metrics`; their durations come from Luigi's PROCESSING_TIME event.
Everything for a date is gathered in the scheduling process and written in one batch when the
date ends: `BhavcopyETL` succeeds (status=success) or any of its stages fails (status=failed,
error=...). MLflow params cannot change, so every invocation that does work for a date opens a
new run named `bhavcopy-etl-<date>`, tagged `trade_date`; the newest is the current one.

With `--workers N > 1` Luigi forks a process per task, and a task's PROCESSING_TIME, SUCCESS and
FAILURE fire in that child; DEPENDENCY_DISCOVERED fires in the scheduling process, before any
fork. There this module opens a pipe; children write each event to it as one JSON line of at
most PIPE_BUF bytes (so lines of several children never interleave, and a write never waits on a
lock), and a thread of the scheduling process applies them in order. With one worker nothing
forks, and events are applied where they fire.

MLflow is never a point of failure: runs are written by another process (mlflow_writer.py: a
resident writer when one listens on `[tracking] writer_socket`, else a child), so a task never
waits on MLflow; its requests are bounded (timeout, no retries), after the first
failure it drops the rest with one warning, and at exit it gets `[tracking] drain_timeout`
seconds to finish.
"""
import atexit
import collections
import json
import logging
import multiprocessing
import os
import queue
import select
import socket
import subprocess
import sys
import threading
import time
from datetime import date

import luigi

from . import config, layout, mlflow_writer
from .datasets import DATASETS
from .errors import OutsideDataDirError
from .masking import mask_secrets
from .stages import STAGE_LIST
from .tasks import BhavcopyETL, DayTask

logger = logging.getLogger("luigi-interface")

DURATION_METRICS = {stage.task: stage.duration_metric for stage in STAGE_LIST}
ERROR_PARAM_LIMIT = 1000

_pending: dict[date, dict[str, float]] = {}
_etl_params: dict[date, tuple[bool, tuple]] = {}  # BhavcopyETL's (load_to_clickhouse, datasets), per date


def tracking_uri() -> str:
    uri = config.tracking().uri
    if uri:
        return uri
    root = config.storage().root
    return "sqlite:///" + os.path.abspath(layout.inside(root, layout.mlflow_path(root)))


def redact(text: str) -> str:
    """No secret reaches MLflow or a log: the ClickHouse password and URL credentials are masked."""
    return mask_secrets(text, config.clickhouse().password)


@luigi.Task.event_handler(luigi.Event.DEPENDENCY_DISCOVERED)
def _on_dependency(task, dependency):
    _open_channel()
    _warm()


@luigi.Task.event_handler(luigi.Event.START)
def _on_start(task):
    """A BhavcopyETL run says, before its stages run, what its days' MLflow params are."""
    _warm()
    if isinstance(task, BhavcopyETL):
        for day in task.dates:
            _route(["params", day.isoformat(), task.load_to_clickhouse, list(task.datasets)])


def metric_name(task: DayTask, name: str) -> str:
    """The dataset's metric prefix before the name (fo_rows_loaded; the equity bhavcopy's is empty)."""
    return DATASETS[task.dataset].metric_prefix + name


@luigi.Task.event_handler(luigi.Event.PROCESSING_TIME)
def _on_processing_time(task, seconds):
    name = DURATION_METRICS.get(task.task_family)
    if name and isinstance(task, DayTask):
        for day in task.days:  # a batch of loads: each day its share
            _route(["metrics", day.isoformat(), {metric_name(task, name): round(seconds / len(task.days), 6)}])


@luigi.Task.event_handler(luigi.Event.SUCCESS)
def _on_success(task):
    if isinstance(task, DayTask):
        _on_success_of(task, list(task.day_metrics()))
    elif isinstance(task, BhavcopyETL):
        for day in task.dates:
            _route(["finish", day.isoformat(), "success", None])
        _drain_if_forked()


def _on_success_of(task: DayTask, days: list) -> None:
    for day in days:
        _route(["metrics", day.isoformat(), {metric_name(task, k): v for k, v in task.day_metrics()[day].items()}])


@luigi.Task.event_handler(luigi.Event.FAILURE)
def _on_failure(task, exception):
    if isinstance(task, DayTask):
        unfinished = task.unfinished_days()  # of a batch of loads, the days loaded before the failure are done
        _on_success_of(task, [day for day in task.day_metrics() if day not in unfinished])
        for day in unfinished:
            _route(["finish", day.isoformat(), "failed", _error(task, exception)])
    elif isinstance(task, BhavcopyETL):
        # A day whose stage failed was finished by that failure; the batch's other days finish here,
        # as successes when their stages are done, so one bad day costs no other day its run.
        for day in task.dates:
            if day not in task.failed_days:
                done = all(stage.complete() for stage in task.stages(day))
                _route(["finish", day.isoformat(), *(("success", None) if done else ("failed", _error(task, exception)))])
        _drain_if_forked()


def _drain_if_forked() -> None:
    """A run Luigi forked with no channel from its parent (one task, `--workers 2`) writes its own
    MLflow runs: they are written before the fork exits, as atexit never runs there."""
    if _channel.get("pid") == os.getpid() and multiprocessing.parent_process() is not None:
        drain()


def _error(task, exception) -> str:
    return redact(f"{task.task_family}: {exception}")[:ERROR_PARAM_LIMIT]  # redacted before it is cut


# ---- events from forked workers to the scheduling process ----

_channel: dict = {}  # in the scheduling process and its forks: "pid" (its owner), "write" (the pipe's end)
_applied = threading.Condition()  # guards _pending and the relay's count of sync lines seen
_synced = [0]
SEND_WAIT = 1.0  # seconds a child retries a full pipe before dropping an event (the relay never stalls)


def _open_channel() -> None:
    """In the scheduling process, before Luigi forks: the pipe, and the thread that applies its lines.

    A fork keeps its parent's channel: a BhavcopyETL run schedules its stages inside a forked worker
    (batch_run.py), and their events belong to the scheduling process.
    """
    if _channel or not config.tracking().enabled:
        return
    read, write = os.pipe()
    os.set_blocking(write, False)
    _channel.update(pid=os.getpid(), write=write)
    threading.Thread(target=_relay, args=(read,), name="mlflow-events", daemon=True).start()


def _route(event: list) -> None:
    """Apply an event here, or in a forked worker send it to the scheduling process."""
    if _channel and _channel["pid"] != os.getpid():
        _send(event)
    else:
        _apply(event)


def _send(event: list) -> None:
    line = json.dumps(event).encode() + b"\n"
    while len(line) > select.PIPE_BUF and event[0] == "finish":  # only a long error can make a line long
        event[3] = event[3][: len(event[3]) // 2]
        line = json.dumps(event).encode() + b"\n"
    deadline = time.monotonic() + SEND_WAIT
    while True:
        try:
            os.write(_channel["write"], line)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
        except OSError:
            break
    logger.warning("MLflow events for %s dropped: the scheduling process does not read them", event[1])


def _relay(read: int) -> None:
    with os.fdopen(read, "rb") as lines:
        for line in lines:
            try:
                event = json.loads(line)
                if event[0] == "sync":
                    with _applied:
                        _synced[0] = max(_synced[0], event[1])
                        _applied.notify_all()
                else:
                    _apply(event)
            except Exception as exc:  # noqa: BLE001 - tracking must never stop the relay
                logger.warning("MLflow event not recorded (%s: %s)", exc.__class__.__name__, exc)


def _sync(seconds: float) -> bool:
    """Wait until the relay has applied every event that forked workers sent before now."""
    if _channel.get("pid") != os.getpid():
        return True
    with _applied:
        token = _synced[0] + 1
    try:
        os.write(_channel["write"], json.dumps(["sync", token]).encode() + b"\n")
    except OSError:
        return False
    with _applied:
        return _applied.wait_for(lambda: _synced[0] >= token, timeout=seconds)


def _apply(event: list) -> None:
    kind, day = event[0], date.fromisoformat(event[1])
    with _applied:
        if kind == "metrics":
            _pending.setdefault(day, {}).update(event[2])
        elif kind == "params":
            _etl_params[day] = (event[2], tuple(event[3]))
        elif kind == "finish":
            _finish(day, event[2], event[3])


def _finish(day: date, status: str, error: str | None) -> None:
    # A failed stage may be retried in this run: keep what the other stages measured for that run.
    metrics = _pending.pop(day, {}) if status == "success" else dict(_pending.get(day, {}))
    if not config.tracking().enabled:
        return
    if day not in _etl_params:
        etl = BhavcopyETL(date=day)
        _etl_params[day] = (etl.load_to_clickhouse, tuple(etl.datasets))
    load, datasets = _etl_params[day]
    settings = config.clickhouse()
    params = {
        "trade_date": day.isoformat(),
        "load_to_clickhouse": str(load).lower(),
        "clickhouse_table": ",".join(settings.table_for(name) for name in datasets),
        "datasets": ",".join(datasets),
        "status": status,
    }
    if error:
        params["error"] = redact(error)[:ERROR_PARAM_LIMIT]
    log_run(day, params, metrics, status)


def _store() -> dict:
    """Where and how the writer reaches MLflow (raises OutsideDataDirError for a store outside DATA_DIR)."""
    settings, uri = config.tracking(), tracking_uri()
    return {
        "uri": uri,
        "uri_shown": redact(uri),
        "cwd": os.getcwd(),  # a resident writer runs elsewhere: a relative URI means what it means here
        "experiment": settings.experiment,
        # MLflow's own variables win, as everywhere else in MLflow
        "http_timeout": os.environ.get("MLFLOW_HTTP_REQUEST_TIMEOUT") or str(settings.request_timeout),
        "http_retries": os.environ.get("MLFLOW_HTTP_REQUEST_MAX_RETRIES") or str(settings.request_retries),
    }


def _warm() -> None:
    """As work starts: the writer imports MLflow and opens the store while the stages run, not after.

    Once per process and writer: Luigi fires the events that call this for every task, and working
    out the store reads three settings (about 0.6 ms, a tenth of a day's overhead when done per
    task). A store first used later in the process (tests) is opened by its first run instead.
    Only where runs are written: a forked worker sends its events to the scheduling process.
    """
    if _current and _current[0].warmed == os.getpid():
        return
    if not config.tracking().enabled or _channel.get("pid", os.getpid()) != os.getpid():
        return
    try:
        store = _store()
    except OutsideDataDirError:
        return  # said once per run, by log_run
    writer = _writer()
    writer.warmed = os.getpid()
    writer.send({**store, "warm": True})


def log_run(day: date, params: dict[str, str], metrics: dict[str, float], status: str) -> None:
    """Queue one finished run for the writer process; never blocks on MLflow."""
    try:
        store = _store()
    except OutsideDataDirError as exc:
        logger.warning("MLflow run for %s not recorded: %s", day, exc)
        return
    _writer().send({
        **store,
        "run_name": f"bhavcopy-etl-{day.isoformat()}",
        "tags": {"trade_date": day.isoformat()},
        "params": params,
        "metrics": metrics,
        "run_status": "FINISHED" if status == "success" else "FAILED",
    })


class _Writer:
    """The MLflow writer this process feeds from a thread, so neither MLflow nor a full pipe can block
    a task: a resident one (`python -m luigi_tasks mlflow-writer`) when its socket answers, else a
    `mlflow_writer.py` child. Either answers one line per record handled, which is how `flush` knows
    it is done; other lines are a resident writer's warnings, logged here.
    """

    def __init__(self):
        self.owner, self.process, self.gone, self.warmed = os.getpid(), None, False, None
        self.socket = _resident_writer()
        if self.socket:
            self.input, self.output = (self.socket.makefile(mode, encoding="utf-8") for mode in ("w", "r"))
            logger.info("MLflow runs are written by the resident writer at %s", self.socket.getpeername())
        else:
            argv, env = mlflow_writer.command()
            self.process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
            self.input, self.output = self.process.stdin, self.process.stdout
            logger.info("MLflow runs are written by a child process (mlflow_writer.py)")
        self.queue: queue.Queue = queue.Queue()
        self.unanswered: collections.deque[bool] = collections.deque()  # per record sent: is it a run
        self.changed = threading.Condition()
        for target in (self._feed, self._count_answers):
            threading.Thread(target=target, name=f"mlflow-writer{target.__name__}", daemon=True).start()

    def alive(self) -> bool:
        return self.owner == os.getpid() and not self.gone and (self.process is None or self.process.poll() is None)

    def _feed(self):
        try:
            while (record := self.queue.get()) is not None:
                self.input.write(json.dumps(record) + "\n")
                self.input.flush()
        except (OSError, ValueError) as exc:
            logger.warning("MLflow writer stopped (%s); later runs are not recorded", exc)
        finally:
            try:
                self.input.close()
                if self.socket:
                    self.socket.shutdown(socket.SHUT_WR)  # the end of input, also for forks holding the socket
            except OSError:
                pass

    def _count_answers(self):
        try:
            for line in self.output:
                if line.strip() != "done":
                    logger.warning("%s", line.rstrip())
                    continue
                with self.changed:
                    if self.unanswered:
                        self.unanswered.popleft()
                    self.changed.notify_all()
        except OSError:
            pass
        with self.changed:  # the writer is gone: nothing more will be written
            self.gone = True
            lost = sum(self.unanswered)
            self.unanswered.clear()
            self.changed.notify_all()
        if lost:
            logger.warning("MLflow writer stopped; %d runs are not recorded", lost)

    def send(self, record: dict) -> None:
        with self.changed:
            self.unanswered.append(not record.get("warm"))
        self.queue.put(record)

    def flush(self, seconds: float) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: not self.unanswered, timeout=seconds)

    def close(self, seconds: float) -> None:
        if not self.flush(seconds):
            logger.warning("MLflow writer did not finish within %s s; %d runs are not recorded",
                           seconds, sum(self.unanswered))
        self.queue.put(None)
        if self.socket:
            return  # the resident writer stays; the feeding thread ends this connection
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _resident_writer() -> socket.socket | None:
    """A connection to the resident writer, if one listens on `[tracking] writer_socket`."""
    settings = config.tracking()
    if not settings.resident_writer:
        return None
    path = settings.socket_path
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.settimeout(2)
    try:
        connection.connect(path)
    except OSError as exc:  # none there, or a socket file left by one that was killed
        connection.close()
        logger.debug("No resident MLflow writer at %s (%s)", path, exc)
        return None
    connection.settimeout(None)
    return connection


_current: list[_Writer] = []


def _writer() -> _Writer:
    if not _current or not _current[0].alive():
        _current[:] = [_Writer()]
    return _current[0]


def drain() -> None:
    """Wait until every queued run is written (tests call this before reading the store)."""
    seconds = config.tracking().drain_timeout
    _sync(seconds)
    if _current:
        _current[0].flush(seconds)


@atexit.register
def _close_at_exit() -> None:
    """A finished `luigi` command waits up to `[tracking] drain_timeout` for its runs to be written."""
    seconds = config.tracking().drain_timeout
    if not _sync(seconds):
        logger.warning("MLflow events of forked workers were not all applied within %s s", seconds)
    while _current:
        _current.pop().close(seconds)
