"""Errors that say which day, which file and what is wrong, so an operator can act on one line."""
from datetime import date


class ExplainedError(Exception):
    """A failure whose message says all an operator needs; its traceback is for the debug log."""


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


class NoFileError(BhavcopyError):
    """NSE published nothing at any route: a holiday, a late file, or a blocked client."""

    def __init__(self, day: date, attempts: list[tuple[str, str]]):
        self.attempts = attempts
        super().__init__(day, attempts[0][0], "no file at any route")

    def describe(self) -> str:
        (url, status), *others = self.attempts
        message = f"no bhavcopy published for {self.day.isoformat()} at {url} ({status})"
        return message + "".join(f"; also tried {url} ({status})" for url, status in others)
