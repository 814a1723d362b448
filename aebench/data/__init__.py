"""Datasets (by name, in memory) and the datamodule that serves them to Lightning."""
from aebench.data import bundled, cifar, idx, manifold, patches, ratings, tables, user  # noqa: F401  (they register)
from aebench.data.arrays import DatasetArrays, Split, seeded_split
from aebench.data.datamodule import AutoencoderDataModule
from aebench.data.registry import list_datasets, load_dataset, register_dataset

__all__ = ["AutoencoderDataModule", "DatasetArrays", "Split", "list_datasets", "load_dataset",
           "register_dataset", "seeded_split"]
