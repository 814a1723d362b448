"""A sweep in the MLflow store: its parent run (tag ``sweep_id``) and the child runs under it."""
from __future__ import annotations

import os
import socket
import time
from contextlib import contextmanager
from typing import Any, Mapping

from mlflow.entities import Run

from aebench.errors import ConfigError
from aebench.tracking import KIND, TrackingStore, search_all
from aebench.tracking.claims import StoreClaim
from aebench.tracking.owners import HOST, PID, owner_alive, owner_tags
from aebench.version import __version__, git_commit


class SweepState:
    """The parent run of one sweep and what its children say."""

    def __init__(self, store: TrackingStore, parent_run_id: str, sweep_id: str):
        self.store, self.parent_run_id, self.sweep_id = store, parent_run_id, sweep_id
        self.lock: StoreClaim | None = None  # held by the launching process of an invocation

    @classmethod
    def open(cls, store: TrackingStore, sweep_id: str, name: str, tags: Mapping[str, str],
             params: Mapping[str, Any]) -> "SweepState":
        """The sweep's parent run, created on its first invocation and claimed by each later one.
        One invocation at a time: the claim on the sweep in the store decides between two started
        together (``aebench.tracking.claims``); the later one is refused with one line."""
        claim = {"sweep.host": socket.gethostname(), "sweep.pid": str(os.getpid()),
                 "sweep.invocation_started": str(time.time()), "aebench.version": __version__,
                 "aebench.git_commit": git_commit(), **tags}
        lock = StoreClaim(store, f"sweep {sweep_id}")
        holder = lock.acquire(owner_tags(), stale=lambda held: not owner_alive(held))
        if holder is not None:
            raise ConfigError("sweep", name, f"one invocation at a time: sweep {sweep_id} is running as process "
                              f"{holder.get(PID)} on {holder.get(HOST)}; wait for it or stop it")
        try:
            found = search_all(store, f"tags.sweep_id = '{sweep_id}' and tags.`{KIND}` = 'sweep'")
            if found:
                run_id = found[0].info.run_id
                store.client.update_run(run_id, status="RUNNING")
                for key, value in claim.items():
                    store.client.set_tag(run_id, key, value)
            else:
                run_id = store.start_run(f"sweep-{name}-{sweep_id[:8]}",
                                         {"sweep_id": sweep_id, KIND: "sweep", **claim}, params)
        except BaseException:
            lock.release()
            raise
        state = cls(store, run_id, sweep_id)
        state.lock = lock
        return state

    def release(self) -> None:
        """Let the next invocation of this sweep run."""
        if self.lock is not None:
            self.lock.release()

    def children(self) -> list[Run]:
        return search_all(self.store, f"tags.mlflow.parentRunId = '{self.parent_run_id}'")

    def finished_run_keys(self) -> set[str]:
        return {run.data.tags.get("run_key") for run in self.children() if run.info.status == "FINISHED"}

    def has_finished(self, run_key: str) -> bool:
        return bool(search_all(self.store, f"tags.mlflow.parentRunId = '{self.parent_run_id}' and "
                                           f"tags.run_key = '{run_key}' and attributes.status = 'FINISHED'"))

    @contextmanager
    def claimed(self, run_key: str):
        """Yield whether this process holds the claim to train ``run_key`` of this sweep: no other
        live process (an earlier invocation's job that outlived its launcher, a second identical
        sweep) trains it at the same time. Held until the block ends."""
        claim = StoreClaim(self.store, f"run {self.sweep_id} {run_key}")
        holder = claim.acquire(owner_tags(), stale=lambda tags: not owner_alive(tags))
        try:
            yield holder is None
        finally:
            claim.release()

    def wait_for_live_children(self, every_s: float = 5.0) -> int:
        """Wait while children are RUNNING in live processes or SLURM jobs of an earlier invocation
        (they outlived their launcher); returns how many there were."""
        def live() -> list[Run]:
            return [run for run in self.children() if run.info.status == "RUNNING" and owner_alive(run.data.tags)]

        waiting = live()
        if waiting:
            print(f"[sweep] waiting for {len(waiting)} runs still training in an earlier invocation's jobs",
                  flush=True)
        count = len(waiting)
        while waiting:
            time.sleep(every_s)
            waiting = live()
        return count

    def kill_stale_children(self) -> tuple[int, set[str]]:
        """Children still RUNNING whose process or SLURM job is gone belong to an earlier invocation
        that died: mark them KILLED. Returns how many, and the run keys still training elsewhere."""
        killed, training = 0, set()
        for run in self.children():
            if run.info.status != "RUNNING":
                continue
            if owner_alive(run.data.tags):
                training.add(run.data.tags.get("run_key"))
                continue
            self.store.client.set_tag(run.info.run_id, "failure_reason",
                                      "left RUNNING by an earlier invocation of the sweep that stopped")
            self.store.finish_run(run.info.run_id, "KILLED")
            killed += 1
        return killed, training
