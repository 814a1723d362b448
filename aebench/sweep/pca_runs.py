"""PCA baseline runs of a sweep: one per dataset and code size its reconstruct runs used, under
the sweep's parent run (tag ``model=pca``), skipped when already FINISHED there."""
from __future__ import annotations

import math

from aebench.evaluate.pca import pca_baseline
from aebench.run.plan import build_datamodule, transfer_datamodules
from aebench.run.spec import RunSpec
from aebench.run.train import run_tags
from aebench.sweep.keys import digest, metrics_key
from aebench.sweep.plan import PlannedJob
from aebench.sweep.state import SweepState
from aebench.tracking import log_code_map, tracked


def log_pca_baselines(jobs: list[PlannedJob], state: SweepState) -> int:
    """Log the missing PCA runs; returns how many were logged."""
    done = state.finished_run_keys()
    wanted: dict[str, tuple] = {}
    for job in jobs:
        spec = job.spec
        if job.skip_reason is not None or spec.task.name != "reconstruct":
            continue  # PCA stands beside reconstruction; each other task logs its own baseline
        code_dim = spec.model.options.get("code_dim")
        if code_dim is None:
            continue
        key = digest({"baseline": "pca", "dataset": spec.config["dataset"], "code_dim": code_dim,
                      "batch_size": spec.trainer.batch_size, "metrics": metrics_key(spec.config["metrics"])})
        if key not in done:
            wanted.setdefault(key, (spec, code_dim))
    logged = 0
    for key, (spec, code_dim) in wanted.items():
        datamodule = build_datamodule(spec)
        if code_dim >= min(math.prod(datamodule.sample_shape), len(datamodule.split.train)):
            continue  # as many components as values: PCA copies its input
        _log_one(state, spec, datamodule, code_dim, key)
        logged += 1
    return logged


def _log_one(state: SweepState, spec: RunSpec, datamodule, code_dim: int, key: str) -> None:
    store = state.store
    tags = {**run_tags(spec), "model": "pca", "regularizer": "none", "seed": "0", "run_key": key,
            "sweep_id": state.sweep_id}
    params = {**{k: v for k, v in spec.params().items() if k.startswith("dataset.")}, "model.name": "pca",
              "model.code_dim": code_dim, "trainer.batch_size": spec.trainer.batch_size}
    run_id = store.start_run(f"{spec.dataset.name}-pca-k{code_dim}", tags, params, parent_run_id=state.parent_run_id)
    with tracked(store, run_id):
        metrics, points = pca_baseline(datamodule, code_dim, spec.metrics, transfer_datamodules(spec, datamodule))
        store.log_metrics(run_id, metrics)
        log_code_map(store, run_id, points, datamodule.labels("test"))
