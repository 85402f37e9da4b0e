"""Data loading: datasets, samplers, batching, and ready-made datasets.

import chainrule as cr
from chainrule.data import DataLoader, datasets

train = datasets.mnist("train", flatten=True)  # TensorDataset: (60000, 784) float32, (60000,) int64
for x, y in DataLoader(train, batch_size=128, shuffle=True):
    ...
"""

from chainrule.data import datasets
from chainrule.data.collate import default_collate
from chainrule.data.dataloader import DataLoader
from chainrule.data.dataset import ConcatDataset, Dataset, Subset, TensorDataset, random_split
from chainrule.data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler, epoch_generator

__all__ = [
    "BatchSampler",
    "ConcatDataset",
    "DataLoader",
    "Dataset",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "Subset",
    "TensorDataset",
    "datasets",
    "default_collate",
    "epoch_generator",
    "random_split",
]
