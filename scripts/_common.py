"""Helpers shared by the benchmark scripts: compose the real config and time Lightning fits."""
from __future__ import annotations

import logging
import statistics
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


def fit_seconds(cfg) -> float:
    """Wall seconds of one Lightning fit through aebench's path: ``plan_run`` for one seed, the
    vectorised ``aebench.fast.SeedEnsemble`` for a seed list (each seed initialised as its own run would be)."""
    from omegaconf import OmegaConf

    from aebench.fast.seeds import SeedDataModule, SeedEnsemble
    from aebench.run.plan import build_trainer, seed_config

    if OmegaConf.is_list(cfg.seed):
        seeds = list(cfg.seed)
        plans = [plan_run(seed_config(cfg, seed)) for seed in seeds]
        module = SeedEnsemble([plan.model for plan in plans], seeds)
        datamodule = SeedDataModule(plans[0].datamodule, seeds, cfg.trainer.steps_per_call)
        trainer = build_trainer(plans[0].spec, select=False)
    else:
        plan = plan_run(cfg)
        module, datamodule, trainer = plan.path.module, plan.path.datamodule, plan.trainer
    started = time.perf_counter()
    trainer.fit(module, datamodule=datamodule)
    return time.perf_counter() - started


def timed_fit(*overrides: str) -> tuple[float, float]:
    """(median step seconds, fit seconds per epoch) of one fit through aebench's own path."""
    cfg = config(*overrides)
    plan = plan_run(cfg)
    timer = StepTimer()
    plan.trainer.callbacks.append(timer)
    started = time.perf_counter()
    plan.fit()
    per_epoch = (time.perf_counter() - started) / cfg.trainer.max_epochs
    return statistics.median(timer.seconds), per_epoch
