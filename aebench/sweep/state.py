"""A sweep in the MLflow store: its parent run (tag ``sweep_id``) and the child runs under it."""
from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Any, Mapping

from mlflow.entities import Run

from aebench.errors import ConfigError
from aebench.tracking import KIND, TrackingStore, search_all
from aebench.version import __version__, git_commit


def process_alive(host: str | None, pid: str | None) -> bool:
    """Whether ``pid`` on this host is still an aebench process (other hosts cannot be checked)."""
    if host != socket.gethostname() or not pid or int(pid) == os.getpid():
        return False
    try:
        return b"aebench" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


class SweepState:
    """The parent run of one sweep and what its children say."""

    def __init__(self, store: TrackingStore, parent_run_id: str, sweep_id: str):
        self.store, self.parent_run_id, self.sweep_id = store, parent_run_id, sweep_id

    @classmethod
    def open(cls, store: TrackingStore, sweep_id: str, name: str, tags: Mapping[str, str],
             params: Mapping[str, Any]) -> "SweepState":
        """The sweep's parent run, created on its first invocation and claimed by each later one."""
        found = search_all(store, f"tags.sweep_id = '{sweep_id}' and tags.`{KIND}` = 'sweep'")
        claim = {"sweep.host": socket.gethostname(), "sweep.pid": str(os.getpid()),
                 "sweep.invocation_started": str(time.time()), "aebench.version": __version__,
                 "aebench.git_commit": git_commit(), **tags}
        if found:
            parent = found[0]
            if parent.info.status == "RUNNING" and process_alive(parent.data.tags.get("sweep.host"),
                                                                 parent.data.tags.get("sweep.pid")):
                raise ConfigError("sweep", name, f"one invocation at a time: sweep {sweep_id} is running "
                                  f"as process {parent.data.tags['sweep.pid']}; wait for it or stop it")
            store.client.update_run(parent.info.run_id, status="RUNNING")
            for key, value in claim.items():
                store.client.set_tag(parent.info.run_id, key, value)
            return cls(store, parent.info.run_id, sweep_id)
        run_id = store.start_run(f"sweep-{name}-{sweep_id[:8]}", {"sweep_id": sweep_id, KIND: "sweep", **claim},
                                 params)
        return cls(store, run_id, sweep_id)

    def children(self) -> list[Run]:
        return search_all(self.store, f"tags.mlflow.parentRunId = '{self.parent_run_id}'")

    def finished_run_keys(self) -> set[str]:
        return {run.data.tags.get("run_key") for run in self.children() if run.info.status == "FINISHED"}

    def has_finished(self, run_key: str) -> bool:
        return bool(search_all(self.store, f"tags.mlflow.parentRunId = '{self.parent_run_id}' and "
                                           f"tags.run_key = '{run_key}' and attributes.status = 'FINISHED'"))

    def kill_stale_children(self) -> int:
        """Children still RUNNING belong to an earlier invocation that died: mark them KILLED."""
        stale = [run for run in self.children() if run.info.status == "RUNNING"]
        for run in stale:
            self.store.client.set_tag(run.info.run_id, "failure_reason",
                                      "left RUNNING by an earlier invocation of the sweep that stopped")
            self.store.finish_run(run.info.run_id, "KILLED")
        return len(stale)
