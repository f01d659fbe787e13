"""A LocalTarget whose temporary file is hidden, so readers of a folder never see half a file.

Luigi's own `temporary_path` writes `<name>-luigi-tmp-N` beside the target, which a
`pyarrow.dataset` reader of the lake would pick up mid-write; a leading dot is skipped by
pyarrow, DuckDB, Spark and `layout.dates_in` alike. A failed write removes its temp file, and
temp files left by a killed run (kill -9 leaves no chance to clean up) go on the next write.
"""
import glob
import os
import random
from contextlib import contextmanager

import luigi


class AtomicLocalTarget(luigi.LocalTarget):
    @contextmanager
    def temporary_path(self):
        folder, name = os.path.split(self.path)
        if folder:
            self.fs.mkdir(folder, parents=True, raise_if_exists=False)
        for stale in glob.glob(os.path.join(glob.escape(folder), f".{glob.escape(name)}.tmp-*")):
            os.remove(stale)
        temp = os.path.join(folder, f".{name}.tmp-{random.randrange(10**10):010d}")
        try:
            yield temp
            os.replace(temp, self.path)
        finally:
            if os.path.exists(temp):
                os.remove(temp)
