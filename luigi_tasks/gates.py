"""What decides whether a dataset's day can run at all, before any stage: late, closed or unknown.

BhavcopyETL requires these gates and builds the stage chains itself (batch_run.py).
"""
import logging
from datetime import date

import luigi

from . import availability, layout
from .config import storage
from .errors import NetworkError, NoFileError
from .nse_access import probe
from .parameters import DatasetParameter, ParamsOnce
from .run_calendar import day_info, need, now, why
from .targets import AtomicLocalTarget

logger = logging.getLogger("luigi-interface")


class NSEPublished(ParamsOnce, luigi.ExternalTask):
    """NSE has published the day's file, by one probe per process (nse_access.probe).

    Required only for a day inside its grace window whose raw file is absent: incomplete, it is
    Luigi's "missing data" (exit code `[retcode] missing_data`, no error e-mail), so a file NSE
    posts late is never a failure. DownloadBhavcopy then uses the body the probe fetched.
    """

    date = luigi.DateParameter(description="Trade date, YYYY-MM-DD")
    dataset = DatasetParameter(default="cm", description="Which NSE file")

    def complete(self):
        return not isinstance(probe(self.dataset, self.date), NoFileError)


class RecordClosed(ParamsOnce, luigi.Task):
    """Record that NSE served nothing, long after it was due, for a day the calendar only guessed.

    The record (layout.closed_path) says why, which routes answered what, and when; while it
    exists the day is complete and costs no request. Delete it to ask NSE again.
    """

    date = luigi.DateParameter(description="Trade date, YYYY-MM-DD")
    dataset = DatasetParameter(default="cm", description="Which NSE file")

    def output(self):
        return AtomicLocalTarget(str(layout.closed_path(storage().root, self.dataset, self.date)))

    def run(self):
        answer = probe(self.dataset, self.date)
        if not isinstance(answer, NoFileError):
            raise RuntimeError(f"{self.date} {self.dataset}: NSE served a file; it is not a closure")
        record = availability.closed_record(self.dataset, self.date, day_info(self.date), answer.attempts, now())
        self.output().write_json(record)
        logger.warning("%s %s: %s", self.dataset, self.date, why(availability.Need.CLOSED_IF_MISSING, self.date))


def day_requires(dataset: str, day: date, root) -> "list | bool":
    """What one dataset's day requires: True for the stage chain, else a list of gates (maybe empty)."""
    needed = need(dataset, day)
    if needed.needs_nothing:
        return []
    if needed is availability.Need.FETCH or layout.raw_path(root, dataset, day).exists():
        return True
    if needed is availability.Need.CLOSED_IF_MISSING and layout.closed_path(root, dataset, day).exists():
        return []
    try:
        answer = probe(dataset, day)
    except NetworkError:
        # Unknown while NSE cannot be reached: the download asks again, with its retries, and fails
        # in one line naming the host; a traceback out of complete() would fail the whole run's
        # scheduling. Nothing is recorded: a late or closed day needs NSE's answer.
        return True
    if not isinstance(answer, NoFileError):
        return True
    if needed is availability.Need.LATE_IF_MISSING:
        return [NSEPublished(date=day, dataset=dataset)]
    if needed is availability.Need.CLOSED_IF_MISSING:
        return [RecordClosed(date=day, dataset=dataset)]
    _unknown_once(dataset, day)
    return []


def _unknown_once(dataset: str, day: date) -> None:
    """Log an unknown day once per process (requires() is asked more than once)."""
    if (dataset, day) not in _UNKNOWN_LOGGED:
        _UNKNOWN_LOGGED.add((dataset, day))
        logger.warning("%s %s: no file at any route; %s", dataset, day, why(availability.Need.UNKNOWN_IF_MISSING, day))


_UNKNOWN_LOGGED: set[tuple[str, date]] = set()
