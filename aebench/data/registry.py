"""Datasets by name: each is a function returning :class:`DatasetArrays`, listed by ``list_datasets()``."""
from __future__ import annotations

import json
from collections import OrderedDict
from typing import Callable

from aebench.data.arrays import DatasetArrays
from aebench.registry import Registry

DATASETS: Registry[Callable[..., DatasetArrays]] = Registry("dataset")
register_dataset = DATASETS.register
_LOADED: "OrderedDict[str, DatasetArrays]" = OrderedDict()
CACHE_SIZE = 4  # datasets kept loaded: a sweep's jobs in one process load each once


def list_datasets() -> list[str]:
    return DATASETS.names()


def load_dataset(name: str, **options) -> DatasetArrays:
    """Load dataset ``name`` with its own options (kept for the next call with the same ones);
    unknown names or options fail with the known ones. The arrays are shared: never modify them."""
    key = json.dumps([name, options], sort_keys=True, default=str)
    if key not in _LOADED:
        _LOADED[key] = DATASETS.build(name, **options)
        while len(_LOADED) > CACHE_SIZE:
            _LOADED.popitem(last=False)
    _LOADED.move_to_end(key)
    return _LOADED[key]
