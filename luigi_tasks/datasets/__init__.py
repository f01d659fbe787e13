"""The NSE files this pipeline knows, by name: every module of this package with a `DATASET`.

A new module is found by itself: nothing else registers it (the tasks, layout, settings and
metrics all ask `DATASETS`). They come in the order NSE began publishing them, then by name.
"""
import importlib
import pkgutil

from ..dataset import Dataset


def discover(path, prefix: str) -> dict[str, Dataset]:
    """The `DATASET` of every module in these folders (a package's __path__), by name."""
    found = [getattr(importlib.import_module(prefix + module.name), "DATASET", None)
             for module in pkgutil.iter_modules(path)]
    datasets = sorted((dataset for dataset in found if isinstance(dataset, Dataset)),
                      key=lambda dataset: (dataset.starts, dataset.name))
    names = [dataset.name for dataset in datasets]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ValueError(f"two modules define the dataset(s) {twice}")
    return {dataset.name: dataset for dataset in datasets}


DATASETS = discover(__path__, f"{__name__}.")
