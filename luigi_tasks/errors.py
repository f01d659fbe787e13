"""Errors that say which day, which file and what is wrong, so an operator can act on one line."""
import logging
from datetime import date


class ExplainedError(Exception):
    """A failure whose message says all an operator needs; its traceback is for the debug log."""


class OneLineFailures(logging.Filter):
    """For a logger's records: a failure that is an ExplainedError shows as one line.

    Luigi's worker logs a failed task with `logger.exception`, so every failure would print its
    traceback, causes included. Here the record keeps Luigi's line plus the error's message, and the
    traceback goes to the same logger at DEBUG (`--log-level DEBUG` shows it).

    Inside a batch (batch_run.run sets `inside_batch`) a stage's failure is a WARNING: the batch's
    own failure repeats it in its one ERROR line, once its attempts are spent.
    """

    inside_batch = False

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if record.levelno > logging.DEBUG and isinstance(error, ExplainedError):
            line = record.getMessage()
            logging.getLogger(record.name).debug("%s: traceback", line, exc_info=record.exc_info)
            record.msg, record.args, record.exc_info, record.exc_text = f"{line}: {error}", (), None, None
            if OneLineFailures.inside_batch and record.levelno > logging.WARNING:
                record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


class OutsideDataDirError(ExplainedError):
    """A path under DATA_DIR leads out of it through a symlink: nothing is written there."""


class BhavcopyError(ExplainedError):
    """A file for a trading day is missing, malformed or not what NSE should have sent."""

    def __init__(self, day: date, file: str, problem: str):
        self.day = day
        self.file = file
        self.problem = problem
        super().__init__(self.describe())

    def describe(self) -> str:
        return f"{self.day.isoformat()} {self.file}: {self.problem}"

    def explain(self, why: str) -> "BhavcopyError":
        """Append what the failure means (e.g. why a missing file is an alarm) to the one line."""
        self.args = (f"{self.args[0]}. {why}",)
        return self


class NoFileError(BhavcopyError):
    """NSE published nothing at any route: a holiday, a late file, or a blocked client."""

    def __init__(self, day: date, attempts: list[tuple[str, str]]):
        self.attempts = attempts
        super().__init__(day, attempts[0][0], "no file at any route")

    def describe(self) -> str:
        (url, status), *others = self.attempts
        message = f"no bhavcopy published for {self.day.isoformat()} at {url} ({status})"
        return message + "".join(f"; also tried {url} ({status})" for url, status in others)


class NetworkError(BhavcopyError):
    """A host did not answer: name resolution, refused, timed out, TLS, reset. An error, never "no file".

    Raised for one request with `attempts` empty; `source.fetch` raises it again with every route it
    tried, so that the one line says what was tried and why each route gave nothing.
    """

    def __init__(self, day: date, url: str, host: str, cause: str, attempts=()):
        self.host, self.cause, self.attempts = host, cause, list(attempts)
        super().__init__(day, url, f"request failed after retries: cannot reach {host}: {cause}")

    def describe(self) -> str:
        routes = ", ".join(f"{url} ({status})" for url, status in self.attempts)
        return super().describe() + (f"; routes tried: {routes}" if routes else "")
