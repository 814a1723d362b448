"""From a run's spec to the objects of one run: datamodule, autoencoder and trainer.

Every error a user can cause is raised here as a one-line :class:`ConfigError`, before any
MLflow run exists. Each builder takes a :class:`~aebench.run.spec.RunSpec` (a composed config is
resolved into one first, once).
"""
from __future__ import annotations

import copy
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Sequence

import lightning as L
import torch
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.callbacks import EarlyStopping
from omegaconf import DictConfig, OmegaConf, open_dict

from aebench.config import config_dir
from aebench.data import AutoencoderDataModule, list_datasets, load_dataset
from aebench.errors import ConfigError, require
from aebench.evaluate.selection import MONITOR, BestWeights
from aebench.evaluate.transfer import check_transfer
from aebench.fast import TrainingPath, choose_path
from aebench.models import Autoencoder, StackedAutoencoder, create_model
from aebench.regularizers import REGULARIZERS, Regularizer, build_regularizers
from aebench.run.progress import EpochProgress
from aebench.run.rules import describe, first_broken_rule
from aebench.run.spec import RunSpec, TrainerSpec, config_group, validate_seed
from aebench.tasks import Task, build_task

ConfigOrSpec = RunSpec | DictConfig


@contextmanager
def cpu_threads(spec: RunSpec):
    """torch's intra-op CPU threads as ``trainer.threads`` asks, for the block; restored after. One
    thread trains small fully connected models faster than one per core: their operators are too
    small to share (BENCHMARKS.md)."""
    threads = spec.trainer.threads
    if threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def build_datamodule(spec: ConfigOrSpec) -> AutoencoderDataModule:
    spec = RunSpec.of(spec)
    with config_group("dataset"):
        arrays = load_dataset(spec.dataset.name, **spec.dataset.options)
        return AutoencoderDataModule(arrays, spec.trainer.batch_size, shuffle_seed=spec.seed, **spec.dataset.split)


def build_regularizers_of(spec: ConfigOrSpec) -> list[Regularizer]:
    with config_group("regularizer"):
        return build_regularizers(RunSpec.of(spec).regularizer.section)


def build_task_of(spec: ConfigOrSpec) -> Task:
    task = RunSpec.of(spec).task
    with config_group("task"):
        return build_task({"name": task.name, **task.options})


def build_model(spec: ConfigOrSpec, datamodule: AutoencoderDataModule,
                regularizers: list[Regularizer] | None = None, task: Task | None = None) -> Autoencoder:
    spec = RunSpec.of(spec)
    shape = datamodule.sample_shape
    task = build_task_of(spec) if task is None else task
    input_shape = task.model_input_shape(shape)
    with config_group("model"):
        return create_model(spec.model.name, input_shape=input_shape, lr=spec.trainer.lr,
                            lr_schedule=spec.trainer.lr_schedule,
                            unit_range=datamodule.arrays.unit_range, metric_options=spec.metrics,
                            regularizers=build_regularizers_of(spec) if regularizers is None else regularizers,
                            output_shape=shape if input_shape != shape else None, task=task, **spec.model.options)


def selection_callbacks(trainer: TrainerSpec) -> list[L.Callback]:
    """Early stopping on ``val/loss`` after ``trainer.patience`` epochs without a lower one (Lightning's
    ``EarlyStopping``), and the best epoch's weights restored for the test (``BestWeights``)."""
    stopping = [] if trainer.patience is None else [
        EarlyStopping(monitor=MONITOR, patience=trainer.patience, mode="min", strict=False,
                      check_on_train_epoch_end=True)]  # after the epoch's validation, on either path
    return [*stopping, BestWeights()]


def build_trainer(spec: ConfigOrSpec, max_epochs: int | None = None, select: bool = True) -> L.Trainer:
    """A Lightning Trainer with no logger yet (the MLflow run is created after every check), choosing
    its weights on validation (``select``; not for a stage of layer-wise pretraining, given ``max_epochs``)."""
    trainer = RunSpec.of(spec).trainer
    devices = list(trainer.devices) if isinstance(trainer.devices, tuple) else trainer.devices
    try:
        return L.Trainer(
            max_epochs=trainer.max_epochs if max_epochs is None else max_epochs, accelerator=trainer.accelerator,
            devices=devices, strategy=trainer.strategy, precision=trainer.precision, logger=False,
            callbacks=(selection_callbacks(trainer) if select else []) + ([EpochProgress()] if trainer.progress_bar else []),
            enable_checkpointing=select,  # BestWeights is the checkpoint callback: in memory, no files
            enable_model_summary=False,
            enable_progress_bar=False, num_sanity_val_steps=0, log_every_n_steps=1,  # EpochProgress instead
            inference_mode=False)  # test metrics differentiate the encoder (Jacobian norm)
    except (MisconfigurationException, ValueError, RuntimeError) as error:
        settings = f"accelerator={trainer.accelerator} devices={devices} strategy={trainer.strategy}"
        raise ConfigError("trainer", settings, f"settings this machine supports ({error})") from None


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
    check_vectorisable_model(plan.spec, plan.model, seeds)
    require(plan.trainer.world_size == 1, "trainer.strategy", plan.spec.trainer.strategy,
            "auto (one process) when seed is a list")


def not_vectorisable(spec: RunSpec, model: Autoencoder, members: str) -> tuple[str, str] | None:
    """(what, why) runs of this model and path cannot train together as one vectorised model (``members``
    names them: "seeds", "trials"), or None where they can."""
    label = f"model={spec.model.name}"
    if not spec.trainer.fast:
        return "trainer.fast=false", f"{members} train together only on the fast path"
    if isinstance(model, StackedAutoencoder):
        return label, f"its layer-wise stages are not vectorised over {members} (model=deep is the same net without them)"
    contractive = [r for r in model.regularizers if r.name == "contractive"]
    if contractive and contractive[0].needs_input_grad:
        return f"the contractive penalty of {label}", f"its vector-Jacobian products cannot be vectorised over {members}"
    return None


def check_vectorisable_model(spec: RunSpec, model: Autoencoder, seeds: list[int]) -> None:
    """What ``check_vectorisable`` asks of the model and its path, without a trainer."""
    reason = not_vectorisable(spec, model, "seeds")
    if reason is not None:
        what, why = reason
        raise ConfigError("seed", seeds, f"a single integer {'with' if what.startswith('trainer.') else 'for'} "
                                         f"{what}: {why}")


def check_alone(spec: RunSpec, model: Autoencoder) -> None:
    """Members are each the very run they are alone (up to float rounding) only where nothing but their
    inputs is drawn at random in training (each member draws those under its own generator,
    ``aebench.fast.member_draws``; no stochastic penalty estimate, no sampling bottleneck) and no member's
    step depends on the others' (fp16's loss scaling skips a step for all on any overflow)."""
    require(not model.bottleneck.draws_at_random and not any(r.draws_at_random for r in model.regularizers),
            "members", spec.run_name, "runs that draw nothing at random in training but their inputs, to train "
            "together as each would alone")
    require(spec.trainer.precision != "16-mixed", "trainer.precision", spec.trainer.precision,
            "32-true or bf16-mixed to train runs together as each would alone (16-mixed scales one loss for all)")


# what the members of one vectorised model may differ in: the seed, Adam's learning rate, and a penalty's
# weight where the penalty is that weight times a term without it (``Regularizer.weight_scales_penalty``)
MEMBER_DIFFERENCES = ("seed", "trainer.lr", "regularizer.weight")
NOT_TRAINED = ("sweep", "hydra")  # where a run sits in a sweep, not what it trains


def member_differences() -> tuple[str, ...]:
    """What members trained together may differ in: ``MEMBER_DIFFERENCES``, then each setting that a
    registered regularizer lets members set apart (``Regularizer.per_member``: sparse_kl's target)."""
    settings = sorted({setting for name in REGULARIZERS.names() for setting in REGULARIZERS.get(name).per_member})
    return (*MEMBER_DIFFERENCES, *(f"regularizer.{setting}" for setting in settings))


def _without_member_differences(spec: RunSpec) -> dict:
    config = {key: value for key, value in copy.deepcopy(dict(spec.config)).items() if key not in NOT_TRAINED}
    for key in member_differences():
        section, _, name = key.rpartition(".")
        (config.get(section) or {} if section else config).pop(name, None)
    return config


def check_members(plans: list["RunPlan"], as_alone: bool = False) -> None:
    """Runs train together as one vectorised model (``aebench.fast.seeds``) only where each operation can
    be vectorised (``check_vectorisable``) and they differ in nothing but ``member_differences()``; a penalty
    weight may differ only where it scales its penalty, from a first member whose weight is not 0, and
    another setting only where its regularizer lets members set it apart (``Regularizer.per_member``).
    ``as_alone``: each member must be the very run it is alone (``check_alone``)."""
    first = plans[0]
    check_vectorisable(first, [plan.spec.seed for plan in plans])
    if as_alone:
        check_alone(first.spec, first.model)
    shared = _without_member_differences(first.spec)
    settings = [key.partition(".")[2] for key in member_differences() if key.startswith("regularizer.")]
    for plan in plans[1:]:
        require(_without_member_differences(plan.spec) == shared, "members", plan.spec.run_name,
                "runs that differ only in " + ", ".join(member_differences()) + " to train together")
        for template, own in zip(first.model.regularizers, plan.model.regularizers):
            if own.has_penalty and own.weight != template.weight:
                require(own.weight_scales_penalty and template.weight != 0, "regularizer.weight", own.weight,
                        f"the first member's weight ({template.weight}) for {own.name} to train members together: its "
                        "penalty is not its weight times a term without it, or the first weight is 0")
            for setting in settings:
                if setting != "weight" and getattr(own, setting, None) != getattr(template, setting, None):
                    require(setting in own.per_member, f"regularizer.{setting}", getattr(own, setting, None),
                            f"the first member's {setting} ({getattr(template, setting, None)}) for {own.name} to "
                            f"train members together: {own.name} does not let members set its {setting} apart")


def members_refusal(cfg: "ConfigOrSpec", differing: Sequence[str] = ()) -> str | None:
    """Why runs of this config that differ in ``differing`` (among ``member_differences()``) cannot train
    together as each would alone (``check_members(..., as_alone=True)``), or None where they can; the
    ConfigError of the rule table where such a run is refused on its own. Builds the run's data and model
    (about 0.05 s on digits), not its trainer (the launching process may have no GPU) or MLflow run; the
    job checks the rest."""
    spec = RunSpec.of(cfg)
    datamodule, regularizers, task = checked_parts(spec)
    try:
        with config_group("task"):
            datamodule = task.prepare(datamodule)
        model = build_model(spec, datamodule, regularizers, task)
        reason = not_vectorisable(spec, model, "trials")
        if reason is not None:
            return ": ".join(reason)
        check_alone(spec, model)
        if "regularizer.weight" in differing:
            for regularizer in (r for r in model.regularizers if r.has_penalty):
                require(regularizer.weight_scales_penalty, "regularizer", regularizer.name, "a regularizer whose penalty "
                        "is its weight times a term without it (weight_scales_penalty) to train weights together")
        for key in differing:
            setting = key.partition(".")[2]
            if key.startswith("regularizer.") and setting != "weight":
                for regularizer in model.regularizers:
                    require(setting in regularizer.per_member, "regularizer", regularizer.name, "a regularizer that lets "
                            f"members set its {setting} apart (Regularizer.per_member) to train {key} together")
    except ConfigError as error:
        return str(error)
    return None


@dataclass
class RunPlan:
    """Everything one run needs, built and checked; ``path`` says how the model trains (fast or reference)."""

    spec: RunSpec
    datamodule: AutoencoderDataModule
    model: Autoencoder
    trainer: L.Trainer
    path: TrainingPath
    transfer: dict[str, AutoencoderDataModule] = field(default_factory=dict)  # metrics.transfer's data

    def fit(self, trainer: L.Trainer | None = None) -> None:
        """Fit the model on its path (with ``trainer``, or the plan's own)."""
        (trainer or self.trainer).fit(self.path.module, datamodule=self.path.datamodule)

    def selection(self) -> dict[str, float]:
        """The best epoch, ``val/loss`` there and the epochs trained, as chosen on validation."""
        best = next((c for c in self.trainer.callbacks if isinstance(c, BestWeights)), None)
        return {} if best is None else best.summary()

    def params(self) -> dict:
        """The run's MLflow params: its resolved config, with the model's real code size and widths."""
        return self.spec.params(code_dim=self.model.code_dim, hidden_dims=self.model.architecture.get("hidden_dims"))


def training_path(spec: ConfigOrSpec, model: Autoencoder, datamodule: AutoencoderDataModule) -> TrainingPath:
    """The fast path where ``trainer.fast`` asks for it and the model supports it, else the reference path."""
    trainer = RunSpec.of(spec).trainer
    return choose_path(model, datamodule, fast=trainer.fast, steps_per_call=trainer.steps_per_call)


def check_rules(spec: RunSpec, datamodule: AutoencoderDataModule, regularizers: list[Regularizer],
                task: Task) -> None:
    """Raise the error of the first need (``aebench.run.rules``) that this combination does not meet."""
    broken = first_broken_rule(describe(spec, datamodule.arrays, regularizers, task))
    if broken is not None:
        raise broken


def checked_parts(spec: RunSpec) -> tuple[AutoencoderDataModule, list[Regularizer], Task]:
    """The datamodule, regularizers and task of ``spec``, once its combination passes the rule table:
    what a run and a sweep's planner check, in the same order, before a model is built."""
    datamodule = build_datamodule(spec)
    regularizers = build_regularizers_of(spec)
    task = build_task_of(spec)
    check_rules(spec, datamodule, regularizers, task)
    return datamodule, regularizers, task


def dataset_spec(spec: RunSpec, name: str) -> RunSpec:
    """``spec`` with its dataset replaced by ``dataset=<name>``'s defaults, as Hydra composes them (its
    ``root`` from the run's ``data_root``)."""
    require(name in list_datasets(), "metrics.transfer", name, "dataset names: " + ", ".join(list_datasets()))
    config = copy.deepcopy(dict(spec.config))
    config["dataset"] = OmegaConf.load(config_dir() / "dataset" / f"{name}.yaml")
    return RunSpec.of(OmegaConf.create(config))


def transfer_datamodules(spec: RunSpec, datamodule: AutoencoderDataModule) -> dict[str, AutoencoderDataModule]:
    """The datasets of ``metrics.transfer`` other than the run's own, loaded and checked against it
    (``aebench.evaluate.transfer``)."""
    loaded = {}
    for name in spec.metrics.transfer:
        if name == spec.dataset.name:
            continue
        try:
            other = build_datamodule(dataset_spec(spec, name))
        except ConfigError as error:
            if error.field == "metrics.transfer":
                raise
            raise ConfigError("metrics.transfer", name, f"a dataset that loads: {error}") from None
        check_transfer(name, spec.dataset.name, datamodule, other)
        loaded[name] = other
    return loaded


def plan_run(cfg: ConfigOrSpec) -> RunPlan:
    """Everything one run needs, checked and built. (A seed list goes to ``train.train_seeds``.)"""
    spec = RunSpec.of(cfg)
    L.seed_everything(spec.seed, workers=False, verbose=False)  # before the model draws its weights
    datamodule, regularizers, task = checked_parts(spec)
    transfer = transfer_datamodules(spec, datamodule)
    with config_group("task"):
        datamodule = task.prepare(datamodule)
    model = build_model(spec, datamodule, regularizers, task)
    return RunPlan(spec, datamodule, model, build_trainer(spec), training_path(spec, model, datamodule), transfer)
