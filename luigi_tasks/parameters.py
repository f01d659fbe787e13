"""Luigi parameters the tasks share, and each task class's list of them, found once."""
import luigi

from .datasets import DATASETS


class DatasetParameter(luigi.Parameter):
    """A dataset's name, checked against DATASETS when a task is made: luigi.ChoiceParameter copies
    its choices when the class is defined, and would miss a dataset registered after that."""

    def normalize(self, x):
        if x not in DATASETS:
            raise ValueError(f"{x!r} is not a valid choice of dataset; known: {sorted(DATASETS)}")
        return x


class DayOrDays(luigi.DateParameter):
    """A trade date, or the tuple of dates Luigi's batching gives one run (batch_method): a BhavcopyETL
    run's days, or the loads of a batch (LoadClickHouse)."""

    def parse(self, s):
        parts = s.split(",")
        return tuple(super(DayOrDays, self).parse(part) for part in parts) if len(parts) > 1 else super().parse(s)

    def normalize(self, value):
        if isinstance(value, tuple):
            return tuple(super(DayOrDays, self).normalize(day) for day in value)
        return super().normalize(value)

    def serialize(self, value):
        if isinstance(value, tuple):
            return ",".join(super(DayOrDays, self).serialize(day) for day in value)
        return super().serialize(value)

    def next_in_enumeration(self, value):
        """Luigi's summary shows consecutive dates as a range; a batch's tuple is not one of them."""
        return None if isinstance(value, tuple) else super().next_in_enumeration(value)


def day_parameters(date_parameter=luigi.DateParameter, **date_options) -> tuple:
    """A stage's (date, dataset) parameters, made in that order (Luigi orders a task's parameters, so
    its name, by when they were made): LoadClickHouse makes its own, batched, date."""
    return (date_parameter(description="Trade date, YYYY-MM-DD", **date_options),
            DatasetParameter(default="cm", description="Which NSE file"))


_PARAMS: dict[type, list] = {}  # task class -> its (name, Parameter) pairs, in declaration order


class ParamsOnce:
    """A task class (or luigi.Config) whose parameters are looked up once, not on every instance.

    Luigi finds them with `dir(cls)` each time a task is made, printed or sent to the scheduler
    (about 20 µs, two thirds of making a stage task; a year's backfill makes and prints tens of
    thousands). A class's parameters are its class attributes, set when it is defined; a subclass
    defined later has its own entry.
    """

    @classmethod
    def get_params(cls):
        if cls not in _PARAMS:
            _PARAMS[cls] = super().get_params()
        return list(_PARAMS[cls])
