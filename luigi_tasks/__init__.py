"""NSE bhavcopy -> Parquet lake -> ClickHouse, as Luigi tasks.

`luigi --module luigi_tasks <Task>` finds every task here, RangeDaily included.
"""
import logging

from luigi.tools.range import RangeDaily  # noqa: F401  (so `--module luigi_tasks RangeDaily` works)

from . import metrics  # noqa: F401,E402  (registers the MLflow event handlers)
from .actions_task import CheckActions  # noqa: F401,E402  (`--module luigi_tasks CheckActions`)
from .errors import OneLineFailures
from .tasks import (  # noqa: F401
    BhavcopyETL,
    DownloadBhavcopy,
    LoadClickHouse,
    NormalizeBhavcopy,
    ParseBhavcopy,
    WriteParquet,
)

logging.getLogger("luigi-interface").addFilter(OneLineFailures())  # a failure's traceback only at DEBUG
