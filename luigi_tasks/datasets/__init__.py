"""The NSE files this pipeline knows, by name: one module each."""
from . import cm, delivery, fo

DATASETS = {dataset.name: dataset for dataset in (cm.DATASET, fo.DATASET, delivery.DATASET)}
