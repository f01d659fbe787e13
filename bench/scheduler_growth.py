"""`python -m bench.scheduler_growth MODE DAYS`: Luigi's scheduling cost alone, with no work in the tasks.

MODE `stages` is today's task graph (RangeDaily -> a wrapper per day -> five chained stage tasks);
`batched` is one task per day that Luigi batches (`batch_method` on the date, 25 days a run), as
the [scale] issue proposes. Each task only records that it ran, so the wall time is the local
scheduler's and the worker's own cost. Run each in a fresh process; compare within one sitting.
"""
import datetime as dt
import sys
import time

import luigi
from luigi.tools.range import RangeDaily

DONE: set = set()


class Stage(luigi.Task):
    date = luigi.DateParameter()
    k = luigi.IntParameter()

    def requires(self):
        return Stage(date=self.date, k=self.k - 1) if self.k else []

    def complete(self):
        return (self.date, self.k) in DONE

    def run(self):
        DONE.add((self.date, self.k))


class Day(luigi.WrapperTask):
    date = luigi.DateParameter()

    @classmethod
    def bulk_complete(cls, dates):
        return [d for d in dates if cls(date=d).complete()]

    def requires(self):
        return Stage(date=self.date, k=4)


class Days(luigi.DateParameter):
    """A date, or the tuple of dates one batched run gets."""

    def normalize(self, value):
        return tuple(value) if isinstance(value, tuple) else super().normalize(value)

    def serialize(self, value):
        return ",".join(map(str, value)) if isinstance(value, tuple) else super().serialize(value)

    def next_in_enumeration(self, value):
        return None if isinstance(value, tuple) else super().next_in_enumeration(value)


class BatchedDay(luigi.Task):
    date = Days(batch_method=tuple)
    max_batch_size = 25

    @classmethod
    def bulk_complete(cls, dates):
        return [d for d in dates if cls(date=d).complete()]

    @property
    def dates(self):
        return self.date if isinstance(self.date, tuple) else (self.date,)

    def complete(self):
        return all(("batched", d) in DONE for d in self.dates)

    def run(self):
        DONE.update(("batched", d) for d in self.dates)


def main(mode: str, days: int) -> None:
    start = dt.date(1990, 1, 1)
    of = {"stages": Day, "batched": BatchedDay}[mode]
    began = time.perf_counter()
    result = luigi.build([RangeDaily(of=of, start=start, stop=start + dt.timedelta(days=days), days_back=10**5,
                                     task_limit=10**6)], local_scheduler=True, workers=1, log_level="ERROR",
                         detailed_summary=True)
    seconds = time.perf_counter() - began
    print(f"mode={mode} days={days} seconds={seconds:.2f} per_day_ms={seconds / days * 1000:.2f} "
          f"status={result.status.name} ran={len(DONE)}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
