"""Targets that readers never see half-written, and that say what they hold.

`AtomicLocalTarget` writes a hidden temporary file beside the target and renames it. Luigi's own
`temporary_path` writes `<name>-luigi-tmp-N`, which a `pyarrow.dataset` reader of the lake would
pick up mid-write; a leading dot is skipped by pyarrow, DuckDB, Spark and `layout.dates_in` alike.
A failed write removes its temp file, and temp files left by a killed run (kill -9 leaves no
chance to clean up) go when the next run first writes into that folder; the writer's PID is in
the name, so a live run's temp file is left alone.

`SealedTarget` adds a seal: a small JSON record of the file's bytes, SHA-256 and rows, written
once the file is in place. The target exists only when both do and the sizes agree, so a file
whose seal is gone (a later redo invalidated it) or that was truncated afterwards counts as not
done, and `verify` can prove every file against its seal. A redo writes the new file beside the
old one: the old file stays readable, and later stages are invalidated (`before_replace`) only
once the new file has passed every check.
"""
import hashlib
import json
import os
import random
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Callable

import luigi

from .layout import inside


def _writer_alive(temp_path: str) -> bool:
    """True if the process named in `.name.tmp-PID-N` still runs (and is not us: ours are dead)."""
    suffix = temp_path.rsplit(".tmp-", 1)[-1]
    if suffix.count("-") != 1:
        return False  # not `PID-N`: no writer to ask about
    try:
        pid = int(suffix.split("-", 1)[0])
    except ValueError:
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# Folders this process has swept of dead writers' temp files, and the temp files it is writing.
_swept: set[str] = set()
_writing: set[str] = set()


def _sweep(folder: str) -> None:
    """Remove the temp files of writers that are gone, once per process and folder.

    A stage folder holds every day of history, so listing it on every write made a backfill's
    cost grow with the square of its days. Temp files are left only by a process that died; the
    ones that died before this process started are all found by its first listing.
    """
    if folder in _swept:
        return
    with os.scandir(folder or ".") as entries:
        stale = [entry.path for entry in entries if entry.name.startswith(".") and ".tmp-" in entry.name]
    for path in stale:
        if path not in _writing and not _writer_alive(path):
            try:
                os.remove(path)
            except FileNotFoundError:
                pass
    _swept.add(folder)


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class AtomicLocalTarget(luigi.LocalTarget):
    """`root`: the folder no write may leave (DATA_DIR), checked before anything is written."""

    def __init__(self, path, root=None, **kwargs):
        super().__init__(path, **kwargs)
        self.root = root

    @contextmanager
    def temporary_path(self, before_replace: Callable[[], None] | None = None):
        """A hidden temp path, renamed onto the target on success; `before_replace` runs just before."""
        if self.root is not None:
            inside(self.root, self.path)
        folder, name = os.path.split(self.path)
        if folder:
            self.fs.mkdir(folder, parents=True, raise_if_exists=False)
        _sweep(folder)
        temp = os.path.join(folder, f".{name}.tmp-{os.getpid()}-{random.randrange(10**10):010d}")
        _writing.add(temp)
        try:
            yield temp
            if before_replace is not None:
                before_replace()
            os.replace(temp, self.path)
        finally:
            _writing.discard(temp)
            if os.path.exists(temp):
                os.remove(temp)

    def write_json(self, record: dict) -> None:
        with self.temporary_path() as temp:
            with open(temp, "w") as handle:
                json.dump(record, handle, indent=1)

    def read_json(self) -> dict:
        with open(self.path) as handle:
            return json.load(handle)


def default_seal_path(path: str) -> str:
    """The seal of `dir/name` is `dir/.name.seal.json`: hidden, so lake readers skip it."""
    folder, name = os.path.split(path)
    return os.path.join(folder, f".{name}.seal.json")


class SealedTarget(AtomicLocalTarget):
    """A data file and its seal (bytes, sha256, rows and whatever the stage adds)."""

    def __init__(self, path: str, seal_path: str | None = None, root=None):
        super().__init__(path, root=root)
        self.seal = AtomicLocalTarget(seal_path or default_seal_path(path), root=root)

    def exists(self) -> bool:
        try:
            size = os.stat(self.path).st_size
            return self.seal.read_json().get("bytes") == size
        except (OSError, ValueError, AttributeError):
            return False

    @contextmanager
    def replacing(self, rows: Callable[[str], int], extra: Callable[[], dict] = dict,
                  before_replace: Callable[[], None] | None = None, sha256: Callable[[str], str] = sha256_of):
        """Write to a temp path; then invalidate (`before_replace`), drop the old seal, replace, seal.

        `rows(temp)` counts what was written and `sha256(temp)` hashes it; the seal is written last,
        so a kill anywhere before it leaves this stage not done rather than done with the wrong seal.
        """
        facts = {}

        def swap():
            facts.update(file=os.path.basename(self.path), bytes=os.path.getsize(temp),
                         sha256=sha256(temp), rows=rows(temp))
            facts.update(extra())
            if before_replace is not None:
                before_replace()
            try:
                os.remove(self.seal.path)
            except FileNotFoundError:
                pass

        with self.temporary_path(before_replace=swap) as temp:
            yield temp
        facts["written_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.seal.write_json(facts)

    def replace_with(self, data, rows: int, extra: Callable[[], dict] = dict,
                     before_replace: Callable[[], None] | None = None) -> str:
        """`replacing`, for a file whose bytes and rows the writer holds: the seal's hash is of the
        bytes written, and nothing is read back to hash or count them. Returns that SHA-256."""
        digest = hashlib.sha256(data).hexdigest()
        with self.replacing(lambda _: rows, extra, before_replace, sha256=lambda _: digest) as temp:
            with open(temp, "wb") as handle:
                handle.write(data)
        return digest

    def read_seal(self) -> dict:
        return self.seal.read_json()

    def problem(self, full: bool = True) -> str | None:
        """Why this file cannot be trusted, or None. `full` also recomputes its SHA-256."""
        return self._check(full, None)[1]

    def read_checked(self) -> tuple[bytes | None, dict | None, str | None]:
        """(bytes, seal, None) when the file matches its seal, else (None, None, the problem).

        One read serves the hash and the caller, so what it uses is exactly what was checked
        (a second read could meet a file replaced in between) and the file is read once.
        """
        try:
            with open(self.path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            data = None
        seal, problem = self._check(True, data)
        return (None, None, problem) if problem else (data, seal, None)

    def _check(self, full: bool, data: bytes | None) -> tuple[dict | None, str | None]:
        try:
            seal = self.read_seal()
        except FileNotFoundError:
            return None, "no seal (written by an older version, or a redo is pending)"
        except (OSError, ValueError) as exc:
            return None, f"its seal {self.seal.path} is unreadable ({exc.__class__.__name__})"
        if not isinstance(seal, dict) or "sha256" not in seal:
            return None, "no seal (written by an older version, or a redo is pending)"
        try:
            size = len(data) if data is not None else os.stat(self.path).st_size
        except FileNotFoundError:
            return None, "missing"
        if size != seal.get("bytes"):
            return None, f"{size} bytes where its seal says {seal.get('bytes')} (truncated or rewritten)"
        digest = (hashlib.sha256(data).hexdigest() if data is not None else sha256_of(self.path)) if full else None
        if full and digest != seal.get("sha256"):
            return None, "its SHA-256 differs from its seal (the file changed after it was written)"
        return seal, None


def stage_target(output, root, dataset: str, day) -> SealedTarget:
    """The sealed target of one `stages.STAGES` output for a dataset's day: tasks, sharing and verify."""
    return SealedTarget(str(output.path(root, dataset, day)), str(output.record(root, dataset, day)), root=root)
