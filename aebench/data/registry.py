"""Datasets by name: each is a function returning :class:`DatasetArrays`, listed by ``list_datasets()``."""
from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path
from typing import Callable

from aebench.data.arrays import DatasetArrays
from aebench.registry import Registry

DATASETS: Registry[Callable[..., DatasetArrays]] = Registry("dataset")
register_dataset = DATASETS.register
_LOADED: "OrderedDict[str, DatasetArrays]" = OrderedDict()
CACHE_SIZE = 4  # datasets kept loaded: a sweep's jobs in one process load each once


def list_datasets() -> list[str]:
    return DATASETS.names()


FILE_OPTIONS = ("root", "path", "labels_path")  # options naming files: their state is part of the cache key


def _file_state(name: str, options: dict) -> list:
    """(path, modification time, size) of every file a dataset reads, so edited files are read again."""
    state = []
    for option in FILE_OPTIONS:
        if options.get(option) is None:
            continue
        path = Path(options[option]) / (name if option == "root" else "")
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        state += [(str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files if f.exists()]
    return state


def load_dataset(name: str, **options) -> DatasetArrays:
    """Load dataset ``name`` with its own options (kept for the next call with the same ones and
    unchanged files); unknown names or options fail with the known ones. The arrays are shared:
    never modify them."""
    key = json.dumps([name, options, _file_state(name, options)], sort_keys=True, default=str)
    if key not in _LOADED:
        _LOADED[key] = DATASETS.build(name, **options)
        while len(_LOADED) > CACHE_SIZE:
            _LOADED.popitem(last=False)
    _LOADED.move_to_end(key)
    return _LOADED[key]
