"""From a composed config to the objects of one run: datamodule, autoencoder and trainer.

Every error a user can cause is raised here as a one-line :class:`ConfigError`, before any
MLflow run exists.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import lightning as L
import torch
from lightning.fabric.utilities.exceptions import MisconfigurationException
from omegaconf import DictConfig, OmegaConf, open_dict

from aebench.data import AutoencoderDataModule, load_dataset
from aebench.errors import ConfigError, require, require_choice, require_int, require_number
from aebench.evaluate.metrics import MetricOptions
from aebench.fast import TrainingPath, choose_path
from aebench.models import Autoencoder, StackedAutoencoder, create_model
from aebench.regularizers import Regularizer, build_regularizers
from aebench.run.rules import describe, first_broken_rule
from aebench.tasks import Task, build_task

SPLIT_OPTIONS = ("split_seed", "val_fraction", "test_fraction")
ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps", "tpu")
PRECISIONS = ("32-true", "32", "bf16-mixed", "16-mixed", "bf16-true", "16-true", "64-true", "64")
MAX_SEED = 2**32 - 1


@contextmanager
def config_group(group: str):
    """Name errors raised inside after their config group: ``code_dim`` becomes ``model.code_dim``."""
    try:
        yield
    except ConfigError as error:
        raise error.in_group(group) from None


@contextmanager
def cpu_threads(cfg: DictConfig):
    """torch's intra-op CPU threads as ``trainer.threads`` asks, for the block; restored after. One
    thread trains small fully connected models faster than one per core: their operators are too
    small to share (BENCHMARKS.md)."""
    threads = cfg.trainer.get("threads")
    if threads is None:
        yield
        return
    with config_group("trainer"):
        require_int("threads", threads, minimum=1)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _options(section: DictConfig, skip: tuple[str, ...]) -> dict:
    return {k: v for k, v in OmegaConf.to_container(section, resolve=True).items() if k not in skip}


def build_datamodule(cfg: DictConfig) -> AutoencoderDataModule:
    with config_group("trainer"):
        require_int("batch_size", cfg.trainer.batch_size, minimum=1)
        require_int("steps_per_call", cfg.trainer.steps_per_call, minimum=1)
    with config_group("dataset"):
        dataset = _options(cfg.dataset, skip=("name", *SPLIT_OPTIONS))
        arrays = load_dataset(cfg.dataset.name, **dataset)
        split = {k: cfg.dataset[k] for k in SPLIT_OPTIONS if k in cfg.dataset}
        return AutoencoderDataModule(arrays, cfg.trainer.batch_size, shuffle_seed=cfg.seed, **split)


def build_regularizers_of(cfg: DictConfig) -> list[Regularizer]:
    with config_group("regularizer"):
        return build_regularizers(OmegaConf.to_container(cfg.regularizer, resolve=True))


def build_metric_options(cfg: DictConfig) -> MetricOptions:
    metrics = cfg.metrics
    with config_group("metrics"):
        projections = metrics.jacobian_projections
        return MetricOptions(
            zero_threshold=require_number("zero_threshold", metrics.zero_threshold, minimum=0.0),
            denoise_std=require_number("denoise_std", metrics.denoise_std, minimum=0.0),
            saturation_margin=require_number("saturation_margin", metrics.saturation_margin, 0.0, 0.5),
            jacobian_projections=None if projections is None else require_int("jacobian_projections",
                                                                               projections, minimum=1))


def build_task_of(cfg: DictConfig) -> Task:
    with config_group("task"):
        return build_task(OmegaConf.to_container(cfg.task, resolve=True))


def build_model(cfg: DictConfig, datamodule: AutoencoderDataModule,
                regularizers: list[Regularizer] | None = None, task: Task | None = None) -> Autoencoder:
    shape = datamodule.sample_shape
    task = build_task_of(cfg) if task is None else task
    options = _options(cfg.model, skip=("name",))
    input_shape = task.model_input_shape(shape)
    try:
        with config_group("model"):
            return create_model(cfg.model.name, input_shape=input_shape, lr=cfg.trainer.lr,
                                unit_range=datamodule.arrays.unit_range, metric_options=build_metric_options(cfg),
                                regularizers=build_regularizers_of(cfg) if regularizers is None else regularizers,
                                output_shape=shape if input_shape != shape else None, task=task, **options)
    except ConfigError as error:
        if error.field == "model.lr":
            raise ConfigError("trainer.lr", error.value, error.allowed) from None
        raise


def build_trainer(cfg: DictConfig, max_epochs: int | None = None) -> L.Trainer:
    """A Lightning Trainer with no logger yet (the MLflow run is created after every check)."""
    trainer = cfg.trainer
    with config_group("trainer"):
        require_int("max_epochs", trainer.max_epochs, minimum=0)
        require_choice("accelerator", trainer.accelerator, ACCELERATORS)
        require_choice("precision", str(trainer.precision), PRECISIONS)
        devices = trainer.devices
        require(devices == "auto" or (isinstance(devices, int) and devices >= 1) or
                (OmegaConf.is_list(devices) and len(devices) > 0), "devices", devices,
                "a count >= 1, a list of device indices, or auto")
    try:
        return L.Trainer(
            max_epochs=trainer.max_epochs if max_epochs is None else max_epochs, accelerator=trainer.accelerator,
            devices=OmegaConf.to_object(devices) if OmegaConf.is_list(devices) else devices,
            strategy=trainer.strategy, precision=str(trainer.precision), logger=False,
            enable_checkpointing=False, enable_model_summary=False,
            enable_progress_bar=bool(trainer.progress_bar), num_sanity_val_steps=0, log_every_n_steps=1,
            inference_mode=False)  # test metrics differentiate the encoder (Jacobian norm)
    except (MisconfigurationException, ValueError, RuntimeError) as error:
        settings = f"accelerator={trainer.accelerator} devices={devices} strategy={trainer.strategy}"
        raise ConfigError("trainer", settings, f"settings this machine supports ({error})") from None


def validate_seed(seed) -> int:
    return require_int("seed", seed, minimum=0, maximum=MAX_SEED)


def is_seed_list(cfg: DictConfig) -> bool:
    return OmegaConf.is_list(cfg.seed)


def check_seed_list(cfg: DictConfig) -> list[int]:
    """``seed=[0,1,2]``: distinct seeds, trained together (see ``aebench.fast.seeds``)."""
    seeds = list(cfg.seed)
    require(len(seeds) >= 1 and len(set(map(str, seeds))) == len(seeds), "seed", seeds,
            "an integer, or a list of distinct integers to train together as one vectorised model")
    for seed in seeds:
        validate_seed(seed)
    return seeds


def seed_config(cfg: DictConfig, seed: int) -> DictConfig:
    """The config of one seed of a seed list: what that seed's own run would have."""
    single = cfg.copy()
    with open_dict(single):
        single.seed = seed
    return single


def check_vectorisable(plan: "RunPlan", seeds: list[int]) -> None:
    """Seeds share one vectorised model only where every operation can be vectorised."""
    model, label = plan.model, f"model={plan.cfg.model.name}"
    require(plan.cfg.trainer.fast, "seed", seeds, "a single integer with trainer.fast=false: seeds train together "
            "only on the fast path")
    require(not isinstance(model, StackedAutoencoder), "seed", seeds,
            f"a single integer for {label}: its layer-wise pretraining is not vectorised over seeds")
    contractive = [r for r in model.regularizers if r.name == "contractive"]
    require(not (contractive and contractive[0].needs_input_grad),
            "seed", seeds, f"a single integer for the contractive penalty of {label}: its vector-Jacobian "
            "products cannot be vectorised over seeds")
    require(plan.trainer.world_size == 1, "trainer.strategy", plan.cfg.trainer.strategy,
            "auto (one process) when seed is a list")


@dataclass
class RunPlan:
    """Everything one run needs, built and checked; ``path`` says how the model trains (fast or reference)."""

    cfg: DictConfig
    datamodule: AutoencoderDataModule
    model: Autoencoder
    trainer: L.Trainer
    path: TrainingPath

    def fit(self, trainer: L.Trainer | None = None) -> None:
        """Fit the model on its path (with ``trainer``, or the plan's own)."""
        (trainer or self.trainer).fit(self.path.module, datamodule=self.path.datamodule)


def training_path(cfg: DictConfig, model: Autoencoder, datamodule: AutoencoderDataModule) -> TrainingPath:
    """The fast path where ``trainer.fast`` asks for it and the model supports it, else the reference path."""
    with config_group("trainer"):
        require(isinstance(cfg.trainer.fast, bool), "fast", cfg.trainer.fast, "true or false")
    return choose_path(model, datamodule, fast=cfg.trainer.fast, steps_per_call=cfg.trainer.steps_per_call)


def check_rules(cfg: DictConfig, datamodule: AutoencoderDataModule, regularizers: list[Regularizer],
                task: Task) -> None:
    """Raise the error of the first rule of ``aebench.run.rules`` that this combination breaks."""
    broken = first_broken_rule(describe(cfg, datamodule.arrays, regularizers, task))
    if broken is not None:
        raise broken


def plan_run(cfg: DictConfig) -> RunPlan:
    """Everything one run needs, checked and built. (A seed list goes to ``train.train_seeds``.)"""
    validate_seed(cfg.seed)
    L.seed_everything(cfg.seed, workers=False, verbose=False)  # before the model draws its weights
    datamodule = build_datamodule(cfg)
    regularizers = build_regularizers_of(cfg)
    task = build_task_of(cfg)
    check_rules(cfg, datamodule, regularizers, task)
    with config_group("task"):
        datamodule = task.prepare(datamodule)
    model = build_model(cfg, datamodule, regularizers, task)
    return RunPlan(cfg, datamodule, model, build_trainer(cfg), training_path(cfg, model, datamodule))
