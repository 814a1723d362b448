"""Runs in the MLflow store: opening the configured store, ending a run FINISHED or FAILED with its
reason, and the queries that sweeps and reports share."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterable

from mlflow.entities import Run

from aebench.tracking.store import TrackingStore

KIND = "aebench.kind"  # "sweep" on a parent run, "run" on a training run
PAGE = 1000


def search_all(store: TrackingStore, filter_string: str) -> list[Run]:
    runs, token = [], None
    while True:
        page = store.client.search_runs([store.experiment_id], filter_string=filter_string,
                                        max_results=PAGE, page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def open_store(tracking) -> TrackingStore:
    """The shared store of a run's ``tracking`` settings (its ``uri`` and ``experiment``)."""
    return TrackingStore.shared(tracking.uri, tracking.experiment)


@contextmanager
def tracked(store: TrackingStore, run_id: str):
    """End the run FINISHED when the block completes, FAILED (or KILLED on an interrupt) with the
    reason in its ``failure_reason`` tag when it raises."""
    try:
        yield
        store.flush(run_id)  # every queued epoch is in the store before the run may end FINISHED
    except BaseException as error:
        end_failed(store, run_id, error)
        error.run_id = run_id  # for the one line that reports it
        raise
    store.finish_run(run_id, "FINISHED")


def end_failed(store: TrackingStore, run_id: str, error: BaseException) -> None:
    """FAILED with the reason, or KILLED for an interrupt."""
    reason = str(error) or ("the process was sent SIGTERM (scancel, a preemption, or kill)"
                            if type(error).__name__ == "SIGTERMException" else "")
    store.client.set_tag(run_id, "failure_reason", f"{type(error).__name__}: {reason}"[:5000])
    store.finish_run(run_id, "KILLED" if isinstance(error, (KeyboardInterrupt, SystemExit)) else "FAILED")


def counted_runs(runs: Iterable[Run]) -> dict[str, Run]:
    """The run that counts for each ``run_key`` (a run's own id where it has none): the latest
    FINISHED one if any, else the latest attempt. Summaries and reports count the same runs."""
    chosen: dict[str, Run] = {}
    for run in sorted(runs, key=lambda r: r.info.start_time):
        key = run.data.tags.get("run_key", run.info.run_id)
        if run.info.status == "FINISHED" or key not in chosen or chosen[key].info.status != "FINISHED":
            chosen[key] = run
    return chosen
