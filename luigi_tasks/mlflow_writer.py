"""Writes finished runs to MLflow, one JSON line per run, in a process of its own.

Run as `python -P mlflow_writer.py` by metrics.py, which imports this module only for `command()`
(its top imports the standard library alone; MLflow is imported in the writer process): MLflow's import
and store set-up (1.5-2 s) and its SQL per run then cost the pipeline's tasks nothing, a second
core does them, and a slow or dead tracking server can only delay this process, never a Luigi task.
After the first failure for a tracking URI, the rest of its runs are dropped with one warning.
It answers one line per record handled, so that metrics.py knows when everything is written.

metrics.py starts it as work starts and first sends a `warm` record (no run), so MLflow is
imported and the store opened while the stages run; a failed warm-up is reported with the first
run, as that run's failure. At the end of its input it leaves with os._exit: MLflow's interpreter
teardown (about 0.5 s) would only delay the command waiting for it, and every write is committed.
Runs go through MlflowClient alone: MLflow's store is MLflow's to write.

`--serve SOCKET` (`python -m luigi_tasks mlflow-writer`) keeps one such process resident: MLflow
is imported once, and each connection to the Unix socket speaks the stdin protocol above, so a
run that finds it pays neither the import nor the store's set-up (they cost more than a
one-day run). Stores stay open across connections; a failure disables its URI for that
connection only (a tracking server that was down last night is tried again tonight), and its
warning also goes back to the connection, as a line before the record's "done", for the run's log.
"""
import importlib.util
import json
import os
import signal
import socket
import socketserver
import stat
import sys
import threading
import time
from pathlib import Path


def _masking():
    """masking.py beside this script, loaded by path: importing the package would load Luigi and
    the tasks, and -P keeps the package folder off sys.path (its modules would shadow MLflow's)."""
    spec = importlib.util.spec_from_file_location("masking", Path(__file__).with_name("masking.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


mask_secrets = _masking().mask_secrets


def command(*args: str) -> tuple[list[str], dict]:
    """How this script is started: argv and environment (MLflow's telemetry off unless asked).

    -P: the script's folder (this package) must not shadow modules MLflow imports."""
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": os.environ.get("MLFLOW_DISABLE_TELEMETRY", "true")}
    return [sys.executable, "-P", __file__, *args], env


def main() -> None:
    if sys.argv[1:2] == ["--serve"] and len(sys.argv) == 3:
        return serve(sys.argv[2])
    records = Records({}, lambda text: print(text, file=sys.stderr, flush=True))
    for line in sys.stdin:
        records.handle(json.loads(line))
        print("done", flush=True)
    sys.stderr.flush()
    os._exit(0)


class StoreReplaced(Exception):
    """The sqlite file behind an open store was removed or replaced: MLflow keeps its connections
    to the old file (its engines are cached per URI), so only a new process can write the new one."""


class Records:
    """The records of one input (stdin, or one connection) against the stores this process keeps."""

    def __init__(self, stores: dict, warn):
        self.stores, self.warn = stores, warn
        self.disabled, self.warm_failures = set(), {}
        self.records = self.written = 0
        self.replaced = False

    def handle(self, record: dict) -> None:
        self.records += 1
        uri = record["uri"]
        try:
            if record.get("cwd"):
                os.chdir(record["cwd"])  # a relative URI, and MLflow's artifact root, mean what they do for the run
            if record.get("warm"):
                self.store(record)
            elif uri in self.warm_failures:
                self.disable(record, self.warm_failures.pop(uri))
            elif uri not in self.disabled:
                self.store(record).log(record)
                self.written += 1
        except Exception as exc:  # noqa: BLE001 - MLflow must never fail the pipeline
            self.stores.pop((uri, record["experiment"]), None)  # opened again by the next input that needs it
            self.replaced |= isinstance(exc, StoreReplaced)
            if record.get("warm"):
                self.warm_failures[uri] = exc  # reported with the first run that needs the store
            else:
                self.disable(record, exc)

    def store(self, record: dict) -> "ClientStore":
        """The store for the record's URI and experiment, opened once."""
        key = (record["uri"], record["experiment"])
        if key in self.stores:
            if self.stores[key].identity != file_identity(record["uri"]):
                raise StoreReplaced(f"{sqlite_file(record['uri'])} was removed or replaced since this writer "
                                    "opened it; the writer must be restarted")
            return self.stores[key]
        os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = record["http_timeout"]
        os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = record["http_retries"]
        self.stores[key] = ClientStore(record)
        return self.stores[key]

    def disable(self, record: dict, exc: Exception) -> None:
        self.disabled.add(record["uri"])
        self.warn(f"WARNING: MLflow at {record['uri_shown']} is unavailable; runs from "
                  f"{record['tags'].get('trade_date')} on are not recorded, the data is written regardless "
                  f"({exc.__class__.__name__}: {mask_secrets(str(exc))[:300]})")


def sqlite_file(uri: str) -> str | None:
    return uri[len("sqlite:///"):].split("?")[0] if uri.startswith("sqlite:///") else None


def file_identity(uri: str) -> tuple | None:
    """Which file a sqlite URI names now (device, inode); None for a missing file or another store."""
    path = sqlite_file(uri)
    try:
        found = os.stat(path) if path else None
    except OSError:
        return None
    return (found.st_dev, found.st_ino) if found else None


class ClientStore:
    """One tracking URI and experiment, through MLflow's own client (imported only here)."""

    def __init__(self, record: dict):
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient(tracking_uri=record["uri"])
        found = self.client.get_experiment_by_name(record["experiment"])
        self.experiment_id = found.experiment_id if found else self.client.create_experiment(record["experiment"])
        self.identity = file_identity(record["uri"])

    def log(self, record: dict) -> None:
        from mlflow.entities import Metric, Param

        run = self.client.create_run(self.experiment_id, run_name=record["run_name"], tags=record["tags"])
        now = int(time.time() * 1000)
        self.client.log_batch(
            run.info.run_id,
            metrics=[Metric(name, float(value), now, 0) for name, value in sorted(record["metrics"].items())],
            params=[Param(name, value) for name, value in record["params"].items()],
        )
        self.client.set_terminated(run.info.run_id, record["run_status"])


# ---- the resident writer ----

_MLFLOW = threading.Lock()  # one MLflow call at a time, whichever connection it is for
_STORES: dict = {}


class _Connection(socketserver.StreamRequestHandler):
    """One run's records, one "done" line back for each (its warnings before it)."""

    def handle(self):
        def warn(text: str) -> None:
            say(text)
            self.wfile.write(text.encode() + b"\n")

        records = Records(_STORES, warn)
        try:
            for line in self.rfile:
                with _MLFLOW:
                    records.handle(json.loads(line))
                self.wfile.write(b"done\n")
                if records.replaced:
                    break
        except OSError:
            pass  # the run went away; what it sent is written
        finally:
            if records.records:  # not a probe of a writer that would start
                say(f"{records.records} records from one connection, {records.written} runs written")
        if records.replaced:
            _stop(self.server, 1)  # under systemd, Restart= starts a writer that opens the new file


def say(text: str) -> None:
    print(f"mlflow-writer: {text}", file=sys.stderr, flush=True)


def serve(path: str) -> None:
    """Answer every connection to the socket at `path` until SIGTERM, MLflow imported once.

    The socket is taken first, so that a second writer is refused at once; a run that connects
    while MLflow is imported waits for its answers, as it would for a child's."""
    server = _listen(path)
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: _stop(server, 0))
    from mlflow.tracking import MlflowClient  # noqa: F401 - imported before the first run is read

    try:  # the sqlite store's module (0.6 s) too; a store is still opened only by the first run that needs it
        import mlflow.store.tracking.sqlalchemy_store  # noqa: F401
    except ImportError:
        pass
    say(f"listening on {path}")
    server.serve_forever()


def _listen(path: str) -> socketserver.UnixStreamServer:
    """The socket, mode 0600; a stale one (no listener) is replaced, a live one refused."""
    if os.path.lexists(path):
        if not stat.S_ISSOCK(os.lstat(path).st_mode):
            raise SystemExit(f"mlflow-writer: {path} exists and is not a socket; not started")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(2)
            try:
                probe.connect(path)
            except (ConnectionRefusedError, FileNotFoundError):
                os.unlink(path)  # left by a writer that was killed
            except OSError as exc:
                raise SystemExit(f"mlflow-writer: cannot tell whether a writer listens on {path} ({exc}); not started")
            else:
                raise SystemExit(f"mlflow-writer: another MLflow writer is already listening on {path}; not started")
    umask = os.umask(0o177)
    try:
        server = socketserver.ThreadingUnixStreamServer(path, _Connection)
    except OSError as exc:
        raise SystemExit(f"mlflow-writer: cannot listen on {path} ({exc}); not started")
    finally:
        os.umask(umask)
    server.daemon_threads = True
    server.identity = os.stat(path).st_ino
    return server


def _stop(server: socketserver.UnixStreamServer, code: int) -> None:
    """Leave once no MLflow call is under way, removing the socket if it is still this writer's."""
    _MLFLOW.acquire(timeout=30)
    try:
        if os.stat(server.server_address).st_ino == server.identity:
            os.unlink(server.server_address)
    except OSError:
        pass
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
