"""A claim in the MLflow store that one process at a time holds: a sweep's invocation claims its
sweep so that two identical sweeps started together do not both train it.

MLflow's API has no compare-and-set, but an experiment's name is unique in every store (a
database constraint, on SQLite, PostgreSQL and behind a server): creating the experiment named
after the claim succeeds for exactly one process; the others get RESOURCE_ALREADY_EXISTS and
read who holds it from the experiment's tags. Releasing renames the experiment to a unique name
(freeing the claim's name) and deletes it. A claim whose holder died is broken by the next
process that finds it stale, which then races for it again like any other.
"""
from __future__ import annotations

import uuid
from typing import Callable, Mapping

from aebench.tracking.store import TrackingStore

PREFIX = "aebench.claim"


class StoreClaim:
    def __init__(self, store: TrackingStore, name: str):
        # per experiment: one store (a server) holds many experiments, and a sweep may run in each
        self.store, self.name = store, f"{PREFIX}/{store.experiment_id}/{name}"
        self.experiment_id: str | None = None

    def acquire(self, owner: Mapping[str, str], stale: Callable[[Mapping[str, str]], bool],
                attempts: int = 5) -> Mapping[str, str] | None:
        """Take the claim: None when taken, else the tags of the live process that holds it."""
        from mlflow.exceptions import MlflowException

        client, holder = self.store.client, {}
        for _ in range(attempts):
            try:
                self.experiment_id = client.create_experiment(self.name, tags=dict(owner))
                return None
            except MlflowException as error:
                if error.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise
            held = client.get_experiment_by_name(self.name)
            if held is None:
                continue  # released between the two calls: race again
            holder = held.tags
            if held.lifecycle_stage == "active" and not stale(holder):
                return holder
            self._retire(held.experiment_id)  # its holder is gone (or someone deleted it by hand)
        return holder or {"aebench.host": "?", "aebench.pid": "? (the claim kept changing hands)"}

    def release(self) -> None:
        if self.experiment_id is not None:
            self._retire(self.experiment_id)
            self.experiment_id = None

    def _retire(self, experiment_id: str) -> None:
        """Free the name (rename to a unique one), then delete: a deleted experiment keeps its name."""
        from mlflow.exceptions import MlflowException

        client = self.store.client
        try:
            if client.get_experiment(experiment_id).lifecycle_stage == "deleted":
                client.restore_experiment(experiment_id)  # deleted by hand: MLflow renames active ones only
            client.rename_experiment(experiment_id, f"{self.name} released {uuid.uuid4().hex}")
            client.delete_experiment(experiment_id)
        except MlflowException:
            pass  # another process retired it first
