"""PCA baseline runs of a sweep: one per dataset and code size its reconstruct runs used, under
the sweep's parent run (tag ``model=pca``), skipped when already FINISHED there."""
from __future__ import annotations

import math

from omegaconf import OmegaConf

from aebench.config import flatten
from aebench.evaluate.pca import pca_baseline
from aebench.run.plan import build_datamodule, build_metric_options
from aebench.run.train import run_tags
from aebench.sweep.keys import digest
from aebench.sweep.plan import PlannedJob
from aebench.sweep.state import SweepState
from aebench.tracking import log_code_map, tracked


def log_pca_baselines(jobs: list[PlannedJob], state: SweepState) -> int:
    """Log the missing PCA runs; returns how many were logged."""
    done = state.finished_run_keys()
    wanted: dict[str, tuple] = {}
    for job in jobs:
        cfg = job.cfg
        code_dim = cfg.model.get("code_dim")
        if job.skip_reason is not None or code_dim is None or cfg.task.name != "reconstruct":
            continue  # PCA stands beside reconstruction; each other task logs its own baseline
        dataset = OmegaConf.to_container(cfg.dataset, resolve=True)
        key = digest({"baseline": "pca", "dataset": dataset, "code_dim": code_dim,
                      "batch_size": cfg.trainer.batch_size, "metrics": OmegaConf.to_container(cfg.metrics)})
        if key not in done:
            wanted.setdefault(key, (cfg, code_dim))
    logged = 0
    for key, (cfg, code_dim) in wanted.items():
        datamodule = build_datamodule(cfg)
        if code_dim >= min(math.prod(datamodule.sample_shape), len(datamodule.split.train)):
            continue  # as many components as values: PCA copies its input
        _log_one(state, cfg, datamodule, code_dim, key)
        logged += 1
    return logged


def _log_one(state: SweepState, cfg, datamodule, code_dim: int, key: str) -> None:
    store = state.store
    tags = {**run_tags(cfg), "model": "pca", "regularizer": "none", "seed": "0", "run_key": key,
            "sweep_id": state.sweep_id}
    params = {**{k: v for k, v in flatten(cfg).items() if k.startswith("dataset.")}, "model.name": "pca",
              "model.code_dim": code_dim, "trainer.batch_size": cfg.trainer.batch_size}
    run_id = store.start_run(f"{cfg.dataset.name}-pca-k{code_dim}", tags, params, parent_run_id=state.parent_run_id)
    with tracked(store, run_id):
        metrics, points = pca_baseline(datamodule, code_dim, build_metric_options(cfg))
        store.log_metrics(run_id, metrics)
        log_code_map(store, run_id, points, datamodule.labels("test"))
