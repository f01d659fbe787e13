"""Luigi parameters the tasks share."""
import luigi

from .datasets import DATASETS


class DatasetParameter(luigi.Parameter):
    """A dataset's name, checked against DATASETS when a task is made: luigi.ChoiceParameter copies
    its choices when the class is defined, and would miss a dataset registered after that."""

    def normalize(self, x):
        if x not in DATASETS:
            raise ValueError(f"{x!r} is not a valid choice of dataset; known: {sorted(DATASETS)}")
        return x
