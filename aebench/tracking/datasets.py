"""A run's data as MLflow dataset inputs: one per split (train, validation, test), with the
dataset's name, a digest of the split's values, its shape and where it came from, so the MLflow
UI's Dataset column and its dataset filter work."""
from __future__ import annotations

import hashlib
import json
import time
from typing import Mapping

import torch

from aebench.tracking.store import TrackingStore

CONTEXTS = {"train": "training", "val": "validation", "test": "test"}
ATTEMPTS = 5  # MLflow inserts a dataset row once per experiment; parallel runs of one dataset race to insert it


def digest(values: torch.Tensor) -> str:
    return hashlib.sha256(values.detach().cpu().contiguous().numpy().tobytes()).hexdigest()[:16]


def log_dataset_inputs(store: TrackingStore, run_id: str, name: str, splits: Mapping[str, torch.Tensor],
                       source: str) -> None:
    """``splits``: split name (train, val, test) -> its values as stored; ``source``: a file or
    folder, or ``aebench:<name>`` for data aebench ships or generates."""
    from mlflow.entities import Dataset, DatasetInput, InputTag

    inputs = []
    for split, values in splits.items():
        profile = json.dumps({"num_rows": int(values.shape[0]), "shape": list(values.shape), "dtype": str(values.dtype)})
        dataset = Dataset(name=f"{name}/{split}", digest=digest(values), source_type="local",
                          source=json.dumps({"uri": source}), profile=profile)
        inputs.append(DatasetInput(dataset, [InputTag("mlflow.data.context", CONTEXTS.get(split, split))]))
    for attempt in range(ATTEMPTS):
        try:
            store.client.log_inputs(run_id, datasets=inputs)
            return
        except Exception:  # noqa: BLE001 (two workers creating the same dataset row at once: the loser retries)
            if attempt == ATTEMPTS - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
