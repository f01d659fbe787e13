"""A LocalTarget whose temporary file is hidden, so readers of a folder never see half a file.

Luigi's own `temporary_path` writes `<name>-luigi-tmp-N` beside the target, which a
`pyarrow.dataset` reader of the lake would pick up mid-write; a leading dot is skipped by
pyarrow, DuckDB, Spark and `layout.dates_in` alike. A failed write removes its temp file, and
temp files left by a killed run (kill -9 leaves no chance to clean up) go on the next write; the
writer's PID is in the name, so a live run's temp file is left alone.
"""
import glob
import os
import random
from contextlib import contextmanager

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


class AtomicLocalTarget(luigi.LocalTarget):
    """`root`: the folder no write may leave (DATA_DIR), checked before anything is written."""

    def __init__(self, path, root=None, **kwargs):
        super().__init__(path, **kwargs)
        self.root = root

    @contextmanager
    def temporary_path(self):
        if self.root is not None:
            inside(self.root, self.path)
        folder, name = os.path.split(self.path)
        if folder:
            self.fs.mkdir(folder, parents=True, raise_if_exists=False)
        for stale in glob.glob(os.path.join(glob.escape(folder), f".{glob.escape(name)}.tmp-*")):
            if not _writer_alive(stale):
                try:
                    os.remove(stale)
                except FileNotFoundError:
                    pass
        temp = os.path.join(folder, f".{name}.tmp-{os.getpid()}-{random.randrange(10**10):010d}")
        try:
            yield temp
            os.replace(temp, self.path)
        finally:
            if os.path.exists(temp):
                os.remove(temp)
