"""Datasets by name: each is a function returning :class:`DatasetArrays`, listed by ``list_datasets()``."""
from __future__ import annotations

import inspect
from typing import Callable

from aebench.data.arrays import DatasetArrays
from aebench.errors import ConfigError

_DATASETS: dict[str, Callable[..., DatasetArrays]] = {}


def register_dataset(loader: Callable[..., DatasetArrays]) -> Callable[..., DatasetArrays]:
    """Register ``loader`` under its function name."""
    _DATASETS[loader.__name__] = loader
    return loader


def list_datasets() -> list[str]:
    return sorted(_DATASETS)


def load_dataset(name: str, **options) -> DatasetArrays:
    """Load dataset ``name`` with its own options; unknown names or options fail with the known ones."""
    if name not in _DATASETS:
        raise ConfigError("name", name, "one of " + ", ".join(list_datasets()))
    loader = _DATASETS[name]
    accepted = inspect.signature(loader).parameters
    for option in options:
        if option not in accepted:
            raise ConfigError(option, options[option],
                              f"not an option of dataset {name}; its options are " + ", ".join(accepted))
    return loader(**options)
