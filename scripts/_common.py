"""Helpers shared by the benchmark scripts: compose the real config and time Lightning fits."""
from __future__ import annotations

import logging
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import lightning as L
from hydra import compose, initialize_config_dir

from aebench.config import config_dir
from aebench.run.plan import plan_run


def quiet() -> None:
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")


def config(*overrides: str):
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        # every fit runs its max_epochs: timings compare equal work, never an early stop
        return compose("config", overrides=["trainer.progress_bar=false", "trainer.patience=null", *overrides])


class StepTimer(L.Callback):
    """Wall time of each training step: forward, penalties, backward and the optimiser step."""

    def __init__(self):
        self.seconds: list[float] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self._started = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.seconds.append(time.perf_counter() - self._started)


def fit_seconds(cfg, tracked: bool = False) -> float:
    """Wall seconds of one Lightning fit through aebench's path: ``plan_run`` for one seed, the
    vectorised ``aebench.fast.SeedEnsemble`` for a seed list or a list of configs (members: trials),
    each member initialised as its own run would be.

    ``tracked``: the fit with an MLflow run per seed in the config's store (``tracking.uri``),
    aebench's logger on each (``tracking.flush_seconds`` as configured), and every epoch written to
    the store before the clock stops (``seconds_of_fit``)."""
    from omegaconf import OmegaConf

    from aebench.fast.member_draws import states_after_planning
    from aebench.fast.seeds import SeedDataModule, SeedEnsemble
    from aebench.run.plan import build_trainer, seed_config

    if isinstance(cfg, list) or OmegaConf.is_list(cfg.seed):  # members (trials), or a seed list
        members = cfg if isinstance(cfg, list) else [seed_config(cfg, seed) for seed in cfg.seed]
        plans, states = [], []
        for member in members:  # as train_members: each member's generators as its run alone starts
            plans.append(plan_run(member))
            states.append(states_after_planning(plans[-1].spec.seed))
        seeds = [plan.spec.seed for plan in plans]
        cfg = plans[0].spec
        module = SeedEnsemble([plan.model for plan in plans], seeds, patience=cfg.trainer.patience,
                              draw_states=states)
        datamodule = SeedDataModule(plans[0].datamodule, seeds, cfg.trainer.steps_per_call)
        trainer = build_trainer(plans[0].spec, select=False)
    else:
        plans = [plan_run(cfg)]
        module, datamodule, trainer = plans[0].path.module, plans[0].path.datamodule, plans[0].trainer
    return seconds_of_fit(lambda: trainer.fit(module, datamodule=datamodule), plans, module, trainer, tracked)


def seconds_of_fit(fit, plans, module, trainer, tracked: bool) -> float:
    """Seconds of ``fit()``; ``tracked``: one MLflow run per plan with aebench's logger attached, and its
    epochs written to the store inside the time. The epoch metrics only: a run's image snapshots
    (``tracking.log_images``) and its test pass and artifacts after the fit are not in it."""
    if not tracked:
        started = time.perf_counter()
        fit()
        return time.perf_counter() - started
    from aebench.fast.seeds import SeedEnsemble
    from aebench.tracking import RunLogger, open_store

    spec = plans[0].spec
    store = open_store(spec.tracking)
    run_ids = [store.start_run("bench", {}, {}) for _ in plans]
    loggers = [[RunLogger(store, run_id, flush_seconds=spec.tracking.flush_seconds)] for run_id in run_ids]
    if isinstance(module, SeedEnsemble):  # each seed's epochs go to its own run
        module.epoch_loggers = loggers
    else:
        trainer.loggers = loggers[0]
    status = "FAILED"
    try:
        started = time.perf_counter()
        fit()
        for run_id in run_ids:
            store.flush(run_id)
        seconds = time.perf_counter() - started
        status = "FINISHED"
    finally:
        for run_id in run_ids:
            store.finish_run(run_id, status)
    return seconds


def timed_fit(*overrides: str, tracked: bool = False) -> tuple[float, float]:
    """(median step seconds, fit seconds per epoch) of one fit through aebench's own path (``tracked``:
    as in ``fit_seconds``)."""
    cfg = config(*overrides)
    plan = plan_run(cfg)
    timer = StepTimer()
    plan.trainer.callbacks.append(timer)
    seconds = seconds_of_fit(plan.fit, [plan], plan.path.module, plan.trainer, tracked)
    return statistics.median(timer.seconds), seconds / cfg.trainer.max_epochs


def temporary_store_uri() -> str:
    """A new SQLite store in a temporary folder, for tracked fits."""
    return f"sqlite:///{tempfile.mkdtemp(prefix='aebench-bench-')}/mlflow.db"


def python_seconds(arguments: list[str], folder: str) -> float:
    """Wall seconds of ``python <arguments>`` in a fresh process run in ``folder`` (its imports included);
    the process's error output ends the benchmark where it fails."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, *arguments], cwd=folder, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return time.perf_counter() - started
