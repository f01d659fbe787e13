"""The NSE files this pipeline knows, by name: one module each."""
from . import actions, cm, delivery, fo, indices, prices52

DATASETS = {dataset.name: dataset for dataset in (cm.DATASET, fo.DATASET, delivery.DATASET, actions.DATASET,
                                                   prices52.DATASET, indices.DATASET)}
