"""ClickHouse side of the pipeline: connect, create the table, replace trade dates.

Pure module (no luigi, no mlflow): the Luigi task reads `config.clickhouse` and passes
plain values in, so this can be tested against a real embedded engine (chdb).

Values always travel as server-side parameters (`{d:Date}`); identifiers cannot, so
they are validated against a strict pattern and backtick-quoted before use.

`replace_days` is a whole load of one or more days: what has been checked (health, table, views)
is remembered per process, so a long backfill pays for it once, not once a day, and days new to
the table go in together, in one insert.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

import clickhouse_connect
import pyarrow as pa
import pyarrow.compute as pc
from clickhouse_connect.driver.client import Client

from .errors import ExplainedError
from .masking import mask_secrets

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


_SCALAR_TYPES = {
    pa.date32(): "Date",
    pa.string(): "String",
    pa.float64(): "Float64",
    pa.int64(): "Int64",
}

# chdb hosts one engine per process, bound to one folder, and hangs if used after a
# fork; clients are therefore cached per process and per folder.
_embedded_lock = threading.Lock()
_embedded: dict[str, Client] = {}
_embedded_pid: int | None = None

# chdb runs background work on 2 threads where a server has 16. A DELETE mutation visits
# every active part of the table, and each visit waits on disk more than it computes: at
# 60 monthly parts a reload took ~8 s with 2 threads and ~0.3-1 s with 16.
_CHDB_OPTIONS = {"background_pool_size": 16}


class WarehouseError(ExplainedError, RuntimeError):
    """ClickHouse unreachable, refusing us, or holding other data than we loaded."""


def validate_identifier(name: str) -> str:
    """Return `name` if it is safe to splice into SQL as a database, table or column name."""
    if not isinstance(name, str) or not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"invalid ClickHouse identifier {name!r}: must match {_IDENTIFIER.pattern}")
    return name


def _quoted(*names: str) -> str:
    return ".".join(f"`{validate_identifier(n)}`" for n in names)


def connect(
    host: str = "",
    port: int = 8123,
    user: str = "default",
    password: str = "",
    secure: bool = False,
    chdb_path: str = "",
    connect_timeout: float = 5.0,
) -> Client:
    """Client for a ClickHouse server, or the embedded chdb engine at `chdb_path` when host is empty.

    No default database is set: it may not exist yet (`ensure_table` creates it), and
    every statement here names its database anyway.
    """
    if not host:
        return _embedded_client(chdb_path)
    where = f"{host}:{port}"
    try:
        client = clickhouse_connect.get_client(
            host=host,
            port=port,
            username=user,
            password=password,
            secure=secure,
            connect_timeout=connect_timeout,
            query_retries=0,
        )
    except Exception as exc:
        cause = mask_secrets(f"{type(exc).__name__}: {exc}", password)
    else:
        return client
    # Raised outside the except block so that no chained exception (which might carry
    # connection details) travels with it.
    raise WarehouseError(f"cannot connect to ClickHouse at {where} as {user!r}: {cause}")


def _embedded_client(path: str) -> Client:
    global _embedded_pid
    if not path:
        raise ValueError("chdb_path is required when no ClickHouse host is given")
    path = os.path.realpath(path)  # chdb compares engine paths literally
    with _embedded_lock:
        if _embedded and _embedded_pid != os.getpid():
            raise WarehouseError(
                f"the embedded ClickHouse at {next(iter(_embedded))} was opened in process {_embedded_pid} "
                "before this process forked; chdb hangs when used across a fork, so open it only in the "
                "process that loads"
            )
        if path in _embedded:
            return _embedded[path]
        if _embedded:
            raise WarehouseError(
                f"the embedded ClickHouse is already open at {next(iter(_embedded))} in this process; "
                f"chdb allows one engine folder per process, so {path} cannot be opened too "
                "(call close_embedded() first)"
            )
        os.makedirs(path, exist_ok=True)
        try:
            client = clickhouse_connect.get_client(interface="chdb", path=path, chdb_options=_CHDB_OPTIONS)
        except Exception as exc:
            cause = f"{type(exc).__name__}: {exc}{_lock_holder(path)}"
        else:
            _embedded[path] = client
            _embedded_pid = os.getpid()
            return client
    raise WarehouseError(f"cannot open the embedded ClickHouse at {path}: {cause}")


def _lock_holder(path: str) -> str:
    """Name the process holding the engine folder: chdb only prints that to stderr."""
    try:
        with open(os.path.join(path, "status"), encoding="utf-8") as f:
            pid = int(f.readline().removeprefix("PID:").strip())
        if pid != os.getpid():
            os.kill(pid, 0)
    except (OSError, ValueError):
        return ""
    return f" (folder locked by process {pid}: one process per chdb folder)"


def close_embedded() -> None:
    """Release the embedded engine so that another folder can be opened in this process."""
    global _embedded_pid
    with _embedded_lock:
        if _embedded_pid == os.getpid():
            for client in _embedded.values():
                client.close()
        _embedded.clear()
        _embedded_pid = None
        forget_ready(embedded_only=True)  # another process may change the folder before we reopen it


class _FolderLease:
    """This process's turn at an embedded engine folder, among processes, by flock on two files.

    `<folder>.lock` is held exclusively while the engine may be open here, and names the holder's
    PID. A process waiting its turn holds `<folder>.waiting` shared; that is how the holder learns
    that it should close the engine and let go, at the end of a load or, while idle, within
    WATCH_INTERVAL. Otherwise the holder keeps the engine between loads: a long backfill opens it
    once, not once a day.
    """

    WATCH_INTERVAL = 0.2
    POLL = 0.05

    def __init__(self):
        self.forget()

    def forget(self):
        """A forked child starts with no turn: the parent's fd and threads are not its own."""
        self.lock = threading.RLock()  # held while a load uses the engine, so the watcher cannot close it
        self.turn = self.watched = 0  # turns taken by this process; the one a watcher thread watches
        fd, self.fd, self.folder = getattr(self, "fd", None), None, None
        if fd is not None:
            os.close(fd)  # closing a copy does not release the parent's flock

    def take(self, folder: str, wait_seconds: float) -> None:
        """Wait (at most `wait_seconds`) until no other process holds the folder's turn, and hold it."""
        if self.fd is not None:
            if self.folder == folder:
                return
            self.release()
        os.makedirs(os.path.dirname(folder), exist_ok=True)
        fd = _open_beside(folder, ".lock")
        try:
            if not self._try(fd):
                with open(_open_beside(folder, ".waiting")) as waiting:
                    fcntl.flock(waiting, fcntl.LOCK_SH)  # seen by the holder: let go after this load
                    deadline = time.monotonic() + wait_seconds
                    while not self._try(fd):
                        if time.monotonic() >= deadline:
                            raise WarehouseError(
                                f"another run (pid {_holder(fd)}) holds the embedded ClickHouse at {folder}; "
                                f"waited {wait_seconds:g} s for it ([clickhouse] lock_timeout)")
                        time.sleep(self.POLL)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except BaseException:
            os.close(fd)
            raise
        self.fd, self.folder = fd, folder
        self.turn += 1

    @staticmethod
    def _try(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def someone_waits(self) -> bool:
        try:
            with open(_open_beside(self.folder, ".waiting")) as waiting:
                if not self._try(waiting.fileno()):
                    return True
                fcntl.flock(waiting, fcntl.LOCK_UN)
        except (OSError, WarehouseError):
            pass
        return False

    def release(self) -> None:
        close_embedded()
        fd, self.fd, self.folder = self.fd, None, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def end_of_load(self) -> None:
        """Let a waiting process have the engine now, or keep it and watch for one."""
        if self.someone_waits():
            self.release()
        elif self.watched != self.turn:
            self.watched = self.turn
            threading.Thread(target=self._watch, args=(self.turn,), name="chdb-lease", daemon=True).start()

    def _watch(self, turn: int) -> None:
        while True:
            time.sleep(self.WATCH_INTERVAL)
            with self.lock:
                if self.fd is None or self.turn != turn:
                    return  # released (a later turn has a watcher of its own)
                if self.someone_waits():
                    self.release()
                    return


def _open_beside(folder: str, suffix: str) -> int:
    """The lease's file next to the engine folder; never through a symlink (O_NOFOLLOW)."""
    path = folder + suffix
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        cause = "it is a symlink, which is never followed" if os.path.islink(path) else exc.strerror
        raise WarehouseError(f"cannot open {path}: {cause}") from exc


def _holder(fd: int) -> str:
    try:
        return os.pread(fd, 32, 0).decode().strip() or "unknown"
    except OSError:
        return "unknown"


_lease = _FolderLease()
os.register_at_fork(after_in_child=_lease.forget)


@dataclass(frozen=True)
class Endpoint:
    """Where loads go: a server when `host` is set, else the embedded engine folder `chdb_path`."""

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    secure: bool
    chdb_path: str
    connect_timeout: float
    lock_timeout: float

    def ready_key(self, database: str, table: str) -> tuple:
        where = ("server", self.host, self.port, self.user) if self.host else ("chdb", os.path.realpath(self.chdb_path))
        return (*where, database, table)


# (endpoint, database, table) -> its health check, ensure_table and views passed in this process;
# the value is what the loads know of the table's dates (KnownDates) when this process alone writes
# the table (the embedded engine under its lease), and None on a server (counted instead). The
# embedded entries go when the engine closes (close_embedded), since another process may then
# change the folder; a load that fails drops its entry, so a table dropped mid-process is made
# again by the one retry in replace_days.
_ready: dict[tuple, "KnownDates | None"] = {}


def forget_ready(embedded_only: bool = False) -> None:
    for key in [key for key in _ready if not embedded_only or key[0] == "chdb"]:
        _ready.pop(key, None)


os.register_at_fork(after_in_child=forget_ready)


@contextlib.contextmanager
def exclusive_client(host: str, port: int, user: str, password: str, secure: bool, chdb_path: str,
                     connect_timeout: float, lock_timeout: float):
    """`connect`, for one load. Embedded: only once no other process has the engine (chdb allows one
    per folder), waiting at most `lock_timeout` seconds for its turn; see `_FolderLease`."""
    if host:
        yield connect(host, port, user, password, secure, "", connect_timeout)
        return
    folder = os.path.realpath(chdb_path)
    with _lease.lock:
        _lease.take(folder, lock_timeout)
        try:
            yield _embedded_client(folder)
        finally:
            _lease.end_of_load()


def health_check(client: Client) -> None:
    """Fail before a load, with the endpoint in the message, rather than halfway through it."""
    try:
        answer = client.command("SELECT 1")
    except Exception as exc:
        cause = f"{type(exc).__name__}: {exc}"
    else:
        if str(answer) == "1":
            return
        cause = f"SELECT 1 returned {answer!r}"
    raise WarehouseError(f"ClickHouse at {client.uri} failed its health check: {cause}")


def clickhouse_columns(schema: pa.Schema, low_cardinality=("series", "source_format")) -> list[tuple[str, str]]:
    """(name, ClickHouse type) per field; nullability follows the arrow schema exactly.

    `low_cardinality` names the strings with a handful of distinct values over millions of rows.
    """
    columns = []
    for field in schema:
        base = _SCALAR_TYPES.get(field.type)
        if base is None:
            raise ValueError(f"no ClickHouse type for column {field.name!r} of arrow type {field.type}")
        ch_type = f"Nullable({base})" if field.nullable else base
        if field.name in low_cardinality:
            ch_type = f"LowCardinality({ch_type})"
        columns.append((validate_identifier(field.name), ch_type))
    return columns


def ensure_table(client: Client, database: str, table: str, schema: pa.Schema,
                 order_by=("trade_date", "symbol", "series"), low_cardinality=("series", "source_format")) -> None:
    """Create the database and table if missing, and refuse an existing table of another shape.

    One query when the table is already right, so it runs before every load: that is what makes
    a dropped table reappear.
    """
    expected = clickhouse_columns(schema, low_cardinality)
    actual = table_columns(client, database, table)
    if not actual:
        client.command(f"CREATE DATABASE IF NOT EXISTS {_quoted(database)}")
        columns = ",\n    ".join(f"`{name}` {ch_type}" for name, ch_type in expected)
        client.command(
            f"CREATE TABLE IF NOT EXISTS {_quoted(database, table)} (\n    {columns}\n)\n"
            "ENGINE = MergeTree\n"
            "PARTITION BY toYYYYMM(trade_date)\n"
            f"ORDER BY ({', '.join(_quoted(name) for name in order_by)})"
        )
        actual = table_columns(client, database, table)
    if actual != expected:
        raise WarehouseError(
            f"{database}.{table} exists with columns {actual}, expected {expected}; "
            "migrate or drop it before loading"
        )


def table_columns(client: Client, database: str, table: str) -> list[tuple[str, str]]:
    """(name, type) of an existing table, in column order."""
    result = client.query(
        "SELECT name, type FROM system.columns WHERE database = {db:String} AND table = {tbl:String} "
        "ORDER BY position",
        parameters={"db": validate_identifier(database), "tbl": validate_identifier(table)},
    )
    return [(name, ch_type) for name, ch_type in result.result_rows]


def count_day(client: Client, database: str, table: str, trade_date: dt.date) -> int:
    """Rows ClickHouse holds for one trade date."""
    return int(
        client.command(
            f"SELECT count() FROM {_quoted(database, table)} WHERE trade_date = {{d:Date}}",
            parameters={"d": trade_date},
        )
    )


def count_days(client: Client, database: str, table: str, days) -> dict[dt.date, int]:
    """Rows ClickHouse holds for each of `days`, in one query."""
    counts = dict.fromkeys(days, 0)
    result = client.query(
        f"SELECT trade_date, count() FROM {_quoted(database, table)} WHERE trade_date IN {{ds:Array(Date)}} "
        "GROUP BY trade_date", parameters={"ds": list(counts)})
    counts.update((day, int(count)) for day, count in result.result_rows)
    return counts


def _check_single_date(rows: pa.Table, trade_date: dt.date) -> None:
    if "trade_date" not in rows.column_names:
        raise ValueError(f"rows for {trade_date} have no trade_date column")
    if rows.num_rows == 0:
        # Replacing a day by nothing would silently erase it; an empty file is a parser problem.
        raise ValueError(f"refusing to replace {trade_date} with no rows")
    dates = rows.column("trade_date")
    bounds = pc.min_max(dates)
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    if dates.null_count or low != trade_date or high != trade_date:
        raise ValueError(
            f"rows to load for {trade_date} contain other dates: "
            f"{low} to {high}, {dates.null_count} null"
        )


def _partition(trade_date: dt.date) -> int:
    return trade_date.year * 100 + trade_date.month  # toYYYYMM, as in ensure_table


def replace_partition_day(client: Client, database: str, table: str, rows: pa.Table, trade_date: dt.date,
                          counted: bool = True) -> int:
    """Swap in a copy of the day's month with the new rows for the day, in one atomic step.

    The month is rebuilt in a scratch table of the same structure (the other days copied server
    side, the new day inserted), checked, and moved in with `REPLACE PARTITION`, which ClickHouse
    applies atomically: readers see the old day or the new one, never neither, and a failure
    anywhere before the swap leaves the table as it was. The check is a count of the scratch
    table, or, unless `counted`, the insert's own count. Returns the rows inserted for the day.
    """
    partition = _partition(trade_date)
    scratch = validate_identifier(f"{table[:55]}__reload")
    client.command(f"DROP TABLE IF EXISTS {_quoted(database, scratch)}")
    client.command(f"CREATE TABLE {_quoted(database, scratch)} AS {_quoted(database, table)}")
    try:
        client.command(
            f"INSERT INTO {_quoted(database, scratch)} SELECT * FROM {_quoted(database, table)} "
            f"WHERE toYYYYMM(trade_date) = {{p:UInt32}} AND trade_date != {{d:Date}}",
            parameters={"p": partition, "d": trade_date},
        )
        written = _insert(client, database, scratch, rows)
        staged = count_day(client, database, scratch, trade_date) if counted else written
        if staged != rows.num_rows:
            raise WarehouseError(f"{database}.{scratch} holds {staged} rows for {trade_date} after inserting "
                                 f"{rows.num_rows}; {database}.{table} is unchanged")
        client.command(f"ALTER TABLE {_quoted(database, table)} REPLACE PARTITION {{p:UInt32}} "
                       f"FROM {_quoted(database, scratch)}", parameters={"p": partition})
        return staged
    finally:
        client.command(f"DROP TABLE IF EXISTS {_quoted(database, scratch)}")


def _insert(client: Client, database: str, table: str, rows: pa.Table) -> int:
    """Insert `rows`; returns the rows the insert says it wrote."""
    summary = client.insert_arrow(
        validate_identifier(table),
        rows,
        database=validate_identifier(database),
        # A reload of unchanged data repeats an earlier block; with deduplication on
        # (replicated or ClickHouse Cloud tables) it would be dropped as a duplicate.
        settings={"insert_deduplicate": 0},
    )
    return summary.written_rows


def load_day(client: Client, database: str, table: str, rows: pa.Table, trade_date: dt.date,
             known: KnownDates | None = None) -> int:
    """Make `rows` exactly what ClickHouse holds for `trade_date`; return that row count.

    Idempotent. A first load is a plain insert; a reload replaces the day's month partition
    atomically (`replace_partition_day`), so a failed reload leaves the previous rows in place.

    `known`: what this process knows of the table's dates, when no other writer can touch it (see
    `_ready`); whether the day is there is then asked of it, and the rows loaded are the insert's
    own count. Without it (a shared server) the day is counted before and after.
    """
    return dict(load_days(client, database, table, [(trade_date, rows)], known))[trade_date]


def _reload(client: Client, database: str, table: str, rows: pa.Table, trade_date: dt.date,
            known: KnownDates | None) -> int:
    """Replace a day the table holds already, checked by a count after (a server) or by the scratch
    insert's own count (`known`)."""
    written = replace_partition_day(client, database, table, rows, trade_date, counted=known is None)
    if known is None:
        loaded = count_day(client, database, table, trade_date)
        if loaded != rows.num_rows:
            raise WarehouseError(
                f"{database}.{table} holds {loaded} rows for {trade_date} after loading {rows.num_rows}; "
                "another writer may be loading the same date"
            )
        return loaded
    if written != rows.num_rows:
        raise WarehouseError(f"{database}.{table}: the insert for {trade_date} wrote {written} rows of {rows.num_rows}")
    known.loaded.add(trade_date)
    return written


def insert_groups(days: Iterable[tuple[dt.date, pa.Table]], max_rows: int) -> Iterator[list[tuple[dt.date, pa.Table]]]:
    """(day, rows) pairs in groups of whole days, of at most `max_rows` rows (a bigger day alone): one
    insert each, so a batch of F&O days (tens of thousands of rows each) stays bounded in memory."""
    group, size = [], 0
    for day, rows in days:
        if group and size + rows.num_rows > max_rows:
            yield group
            group, size = [], 0
        group.append((day, rows))
        size += rows.num_rows
    if group:
        yield group


def load_days(client: Client, database: str, table: str, days: list[tuple[dt.date, pa.Table]],
              known: KnownDates | None = None) -> Iterator[tuple[dt.date, int]]:
    """`load_day` for several days, yielding (day, rows it holds) as each is made exactly so.

    Whether each day is there is asked once (of `known`, else one count of all the days). The days
    the table does not hold yet go in together, in one insert (about 4 ms a day less on the
    embedded engine than an insert each), checked by its own count with `known`, else by one count
    of those days after. A day already there is replaced alone, atomically (`_reload`). A failure
    leaves the days yielded before it loaded.
    """
    for day, rows in days:
        _check_single_date(rows, day)
    if known is not None:
        present = {day for day, _ in days if known.holds(client, database, table, day)}
    else:
        present = {day for day, count in count_days(client, database, table, [day for day, _ in days]).items() if count}
    for day, rows in days:
        if day in present:
            yield day, _reload(client, database, table, rows, day, known)
    new = [(day, rows) for day, rows in days if day not in present]
    if not new:
        return
    expected = sum(rows.num_rows for _, rows in new)
    span = f"{new[0][0]}" + (f" .. {new[-1][0]} ({len(new)} days)" if len(new) > 1 else "")
    written = _insert(client, database, table, pa.concat_tables([rows for _, rows in new]))
    if known is None:
        counts = count_days(client, database, table, [day for day, _ in new])
        wrong = [f"{counts[day]} rows for {day} after loading {rows.num_rows}"
                 for day, rows in new if counts[day] != rows.num_rows]
        if wrong:
            raise WarehouseError(f"{database}.{table} holds {', '.join(wrong)}; "
                                 "another writer may be loading the same date")
    elif written != expected:
        raise WarehouseError(f"{database}.{table}: the insert for {span} wrote {written} rows of {expected}")
    for day, rows in new:
        if known is not None:
            known.loaded.add(day)
        yield day, rows.num_rows


class KnownDates:
    """What this process knows of the dates a table holds, when no other process can write it.

    Taken from the table's active parts (their date ranges: metadata, ~2 ms at any size, against
    ~30 ms for a DISTINCT over four years): a day outside every range is not there, a day this
    process loaded is; only a day inside a range and not loaded here is counted. A backfill of new
    days and a nightly run therefore count nothing.
    """

    def __init__(self, client: Client, database: str, table: str):
        result = client.query(
            "SELECT min_date, max_date FROM system.parts WHERE database = {db:String} AND table = {tbl:String} "
            "AND active", parameters={"db": validate_identifier(database), "tbl": validate_identifier(table)})
        self.spans = result.result_rows
        self.loaded: set[dt.date] = set()

    @classmethod
    def of(cls, client: Client, database: str, table: str) -> "KnownDates | None":
        """None for a table of another engine than MergeTree (its parts may not keep what is inserted)."""
        engine = client.command("SELECT engine FROM system.tables WHERE database = {db:String} AND name = {tbl:String}",
                                parameters={"db": validate_identifier(database), "tbl": validate_identifier(table)})
        return cls(client, database, table) if engine == "MergeTree" else None

    def holds(self, client: Client, database: str, table: str, day: dt.date) -> bool:
        if day in self.loaded:
            return True
        if any(low <= day <= high for low, high in self.spans):
            return count_day(client, database, table, day) > 0
        return False


def replace_days(endpoint: Endpoint, database: str, table: str, days: list[tuple[dt.date, pa.Table]],
                 schema: pa.Schema, order_by=("trade_date", "symbol", "series"),
                 low_cardinality=("series", "source_format"),
                 views: Callable[[Client], object] | None = None,
                 loaded: Callable[[dt.date, int], object] = lambda day, rows: None) -> None:
    """One load of (day, rows) pairs: connect, check and make the table (and `views`) once per
    process, then `load_days`, calling `loaded(day, rows held)` as each day is made so.

    A load that fails after the table was made ready earlier in this process is tried once more
    from the health check, for the days not yet loaded: the table may have been dropped or changed
    since. A server (`endpoint.host`) may have other writers, so every load there is counted.
    """
    for day, rows in days:
        _check_single_date(rows, day)  # a bad day is refused before anything, and never retried
    key = endpoint.ready_key(database, table)
    left = dict(days)
    with exclusive_client(endpoint.host, endpoint.port, endpoint.user, endpoint.password, endpoint.secure,
                          endpoint.chdb_path, endpoint.connect_timeout, endpoint.lock_timeout) as client:
        retry = key in _ready
        while True:
            if key not in _ready:
                health_check(client)
                ensure_table(client, database, table, schema, order_by, low_cardinality)
                if views is not None:
                    views(client)
                _ready[key] = None if endpoint.host else KnownDates.of(client, database, table)
            progress = load_days(client, database, table, list(left.items()), known=_ready[key])
            while True:
                try:
                    day, count = next(progress)
                except StopIteration:
                    return
                except Exception:
                    _ready.pop(key, None)
                    if not retry:
                        raise
                    retry = False
                    break
                del left[day]
                loaded(day, count)  # outside the try: a failure of the caller's is not the load's to retry


def replace_day(endpoint: Endpoint, database: str, table: str, rows: pa.Table, trade_date: dt.date,
                schema: pa.Schema, order_by=("trade_date", "symbol", "series"),
                low_cardinality=("series", "source_format"),
                views: Callable[[Client], object] | None = None) -> int:
    """`replace_days` for one day; returns the rows loaded."""
    counts = {}
    replace_days(endpoint, database, table, [(trade_date, rows)], schema, order_by, low_cardinality, views,
                 loaded=counts.__setitem__)
    return counts[trade_date]
