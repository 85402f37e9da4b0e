"""Data loading: datasets, samplers, batching, and ready-made datasets (``chainrule.utils.data`` too).

import chainrule as cr
from chainrule.data import DataLoader, datasets

train = datasets.mnist("train", flatten=True)  # TensorDataset: (60000, 784) float32, (60000,) int64
for x, y in DataLoader(train, batch_size=128, shuffle=True):
    ...
"""

from chainrule.data import datasets
from chainrule.data.collate import default_collate, default_convert
from chainrule.data.dataloader import DataLoader
from chainrule.data.dataset import (
    ChainDataset,
    ConcatDataset,
    Dataset,
    IterableDataset,
    StackDataset,
    Subset,
    TensorDataset,
    random_split,
)
from chainrule.data.sampler import (
    BatchSampler,
    DistributedSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
    epoch_generator,
)
from chainrule.data.worker import WorkerInfo, get_worker_info

__all__ = [
    "BatchSampler",
    "ChainDataset",
    "ConcatDataset",
    "DataLoader",
    "Dataset",
    "DistributedSampler",
    "IterableDataset",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "StackDataset",
    "Subset",
    "SubsetRandomSampler",
    "TensorDataset",
    "WeightedRandomSampler",
    "WorkerInfo",
    "datasets",
    "default_collate",
    "default_convert",
    "epoch_generator",
    "get_worker_info",
    "random_split",
]
