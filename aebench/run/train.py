"""One run, start to end: check and build, fit, test, and track it all in one MLflow run."""
from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import lightning as L
import numpy as np
import torch
from omegaconf import DictConfig

from aebench.data import AutoencoderDataModule
from aebench.evaluate.probes import code_map, probe_accuracies
from aebench.evaluate.transfer import transfer_scores
from aebench.evaluate.variation import interpolation_rows, traversal_rows
from aebench.fast import SeedDataModule, SeedEnsemble
from aebench.fast.member_draws import states_after_planning
from aebench.models import Autoencoder, StackedAutoencoder, save_autoencoder
from aebench.ops.chunks import apply_in_chunks, device_of, encode_all
from aebench.run.plan import (
    RunPlan,
    build_trainer,
    check_members,
    check_seed_list,
    cpu_threads,
    plan_run,
    seed_config,
    training_path,
)
from aebench.run.pretrain import pretrain_layerwise
from aebench.run.spec import RunSpec
from aebench.tracking import (
    RunLogger,
    TrackingStore,
    end_failed,
    log_code_map,
    log_dataset_inputs,
    open_store,
    save_image_grid,
    tracked,
)
from aebench.tracking.models import log_mlflow_model
from aebench.tracking.owners import owner_tags
from aebench.tracking.snapshots import ReconstructionSnapshots
from aebench.version import __version__, git_commit

GRID_IMAGES = 12
GRID_PAIRS = 3  # test image pairs whose interpolations are drawn
MODEL_EXAMPLES = 4  # validation samples: the MLflow model's input example (a batch > 1: its batch size is dynamic)


@dataclass
class RunResult:
    run_id: str | None  # None on the processes of a data-parallel run other than rank 0
    status: str
    metrics: dict[str, float] = field(default_factory=dict)
    experiment_id: str | None = None


def is_global_zero() -> bool:
    """Whether this process is rank 0 of a data-parallel run (True when there is none): Lightning
    starts the other ranks with LOCAL_RANK / NODE_RANK set, torchrun with RANK, srun with SLURM_PROCID."""
    environment = os.environ
    if "RANK" in environment:
        return int(environment["RANK"]) == 0
    if int(environment.get("SLURM_NTASKS", "1")) > 1:
        return int(environment.get("SLURM_PROCID", "0")) == 0
    return int(environment.get("NODE_RANK", "0")) == 0 and int(environment.get("LOCAL_RANK", "0")) == 0


def run_tags(spec: RunSpec) -> dict[str, str]:
    commit = git_commit()
    tags = {"dataset": spec.dataset.name, "model": spec.model.name, "regularizer": spec.regularizer.label,
            "task": spec.task.name, "seed": str(spec.seed), "aebench.kind": "run", "aebench.version": __version__,
            "aebench.git_commit": commit}
    if commit != "unknown":
        tags["mlflow.source.git.commit"] = commit.removesuffix("-dirty")
    tags.update({"mlflow.source.name": "python -m aebench", "mlflow.source.type": "LOCAL"})  # the UI's Source column
    return {**tags, **owner_tags()}  # who trains it: a resumed sweep leaves a live owner's run alone


def log_data(store: TrackingStore, run_id: str, plan: RunPlan) -> None:
    """The run's three splits as MLflow dataset inputs (name, digest, shape, source)."""
    spec, datamodule = plan.spec, plan.datamodule
    options = spec.dataset.options
    source = (str(Path(options["root"]) / spec.dataset.name) if options.get("root") else
              str(options["path"]) if options.get("path") else f"aebench:{spec.dataset.name}")
    splits = {stage: datamodule.stored[getattr(datamodule.split, stage)] for stage in ("train", "val", "test")}
    log_dataset_inputs(store, run_id, spec.dataset.name, splits, source)


def train(cfg: DictConfig | RunSpec, parent_run_id: str | None = None, tags: Mapping[str, str] | None = None) -> RunResult:
    """Check and build everything, then fit and test inside one MLflow run.

    A user error raises :class:`~aebench.errors.ConfigError` before the run is created. Once
    it exists, the run ends FINISHED only after every metric and artifact is logged; an
    exception ends it FAILED (reason in the ``failure_reason`` tag), an interrupt KILLED.
    Under data parallelism only rank 0 creates and fills the run; the other ranks train alongside.
    """
    spec = RunSpec.of(cfg)
    with cpu_threads(spec):
        return _train(spec, parent_run_id, tags)


def _train(spec: RunSpec, parent_run_id: str | None, tags: Mapping[str, str] | None) -> RunResult:
    plan = plan_run(spec)
    if not is_global_zero():
        _fit(plan, None, None)
        plan.trainer.test(plan.model, datamodule=plan.datamodule, verbose=False)
        return RunResult(None, "FINISHED")
    store = open_store(spec.tracking)
    run_id = store.start_run(spec.run_name, {**run_tags(spec), **path_tags(plan), **(tags or {})}, plan.params(),
                             parent_run_id=parent_run_id)
    with tracked(store, run_id):
        log_data(store, run_id, plan)
        fit_seconds = _fit(plan, store, run_id)
        return RunResult(run_id, "FINISHED", _evaluate(plan, store, run_id, fit_seconds), store.experiment_id)


def path_tags(plan: RunPlan) -> dict[str, str]:
    """Which path trained the run, and why not the fast one where it was asked for."""
    tags = {"aebench.training_path": plan.path.name}
    if plan.path.fallback_reason:
        tags["aebench.fast_fallback"] = plan.path.fallback_reason
    return tags


def _loggers(store: TrackingStore | None, run_id: str | None, spec: RunSpec, prefix: str = "") -> list:
    return [] if store is None else [RunLogger(store, run_id, prefix, flush_seconds=spec.tracking.flush_seconds)]


def _fit(plan: RunPlan, store: TrackingStore | None, run_id: str | None) -> float:
    """Pretrain (stacked) and fit; the seconds it took."""
    model, datamodule, trainer = plan.model, plan.datamodule, plan.trainer
    trainer.loggers = _loggers(store, run_id, plan.spec)
    started = time.perf_counter()
    if isinstance(model, StackedAutoencoder) and model.pretrains:
        def fit_stage(stage: L.LightningModule, stage_data: AutoencoderDataModule, index: int) -> None:
            stage_trainer = build_trainer(plan.spec, max_epochs=model.pretrain_epochs, select=False)
            stage_trainer.loggers = _loggers(store, run_id, plan.spec, f"pretrain/layer{index + 1}/")
            path = training_path(plan.spec, stage, stage_data)
            stage_trainer.fit(path.module, datamodule=path.datamodule)

        pretrain_layerwise(model, datamodule, fit_stage)
    if store is not None and plan.spec.tracking.log_images and datamodule.arrays.is_image:
        validation = datamodule.inputs("val")[:GRID_IMAGES]
        # first: its last snapshot must see the last epoch's weights, before BestWeights restores the best
        trainer.callbacks.insert(0, ReconstructionSnapshots(store, run_id, lambda m: grid_rows(m, validation), model))
    plan.fit()
    return time.perf_counter() - started


def _evaluate(plan: RunPlan, store: TrackingStore, run_id: str, fit_seconds: float,
              selection: dict[str, float] | None = None) -> dict[str, float]:
    """Test, probe and log: the test metrics, the summary metrics (the fit's selection on validation
    among them) and the artifacts."""
    selection = plan.selection() if selection is None else selection
    model, datamodule, trainer = plan.model, plan.datamodule, plan.trainer
    trainer.loggers = _loggers(store, run_id, plan.spec)
    results = trainer.test(model, datamodule=datamodule, verbose=False)[0]
    test_codes = encode_all(model, model.task.clean_input(datamodule.inputs("test"))).numpy()
    task_metrics, task_artifacts = model.task.evaluate(model, datamodule)
    pretrained = model.pretraining_epochs if isinstance(model, StackedAutoencoder) else 0
    transfer = transfer_scores(lambda x: apply_in_chunks(model, model.task.clean_input(x), device=device_of(model)),
                               plan.transfer)
    summary = {"train/fit_seconds": fit_seconds, "model/num_parameters": model.num_parameters(),
               "model/code_dim": model.code_dim, **selection, **_probe(plan, test_codes), **task_metrics, **transfer,
               "train/total_epochs": float(selection.get("train/epochs_trained", trainer.current_epoch) + pretrained)}
    store.log_metrics(run_id, summary, step=trainer.current_epoch)
    _log_artifacts(plan, store, run_id, test_codes, task_artifacts)
    return {**results, **summary}


def train_seeds(cfg: DictConfig, parent_run_id: str | None = None,
                tags: Callable[[RunSpec], Mapping[str, str]] | None = None) -> list[RunResult]:
    """``seed=[s1, s2, ...]``: every seed in one vectorised model (``aebench.fast.seeds``), each seed
    its own MLflow run. ``tags(seed_spec)`` adds tags to each seed's run. A seed whose loss
    diverges ends FAILED; the others are unaffected."""
    specs = [RunSpec.of(seed_config(cfg, seed)) for seed in check_seed_list(cfg)]
    return train_members(specs, parent_run_id, [tags(spec) if tags else {} for spec in specs])


def train_members(configs: list[DictConfig | RunSpec], parent_run_id: str | None = None,
                  tags: list[Mapping[str, str]] | None = None, as_alone: bool = False) -> list[RunResult]:
    """Runs that differ only in their seed, learning rate, penalty weight or a regularizer's per-member
    settings (``check_members``: the
    trials of a tuned sweep) trained together as one vectorised model, each its own MLflow run with
    its ``tags``; a ConfigError, before any run exists, where they cannot be (``as_alone``: where a
    member would not be the run it is alone). A member whose loss diverges ends FAILED; the others
    are unaffected."""
    specs = [RunSpec.of(config) for config in configs]
    with cpu_threads(specs[0]):
        return _train_members(specs, parent_run_id, tags or [{} for _ in specs], as_alone)


def _train_members(specs: list[RunSpec], parent_run_id: str | None, tags: list[Mapping[str, str]],
                   as_alone: bool) -> list[RunResult]:
    seeds = [spec.seed for spec in specs]
    plans, draw_states = [], []
    for spec in specs:  # each member initialised as its own run would be, and its generators as they then are
        plans.append(plan_run(spec))
        draw_states.append(states_after_planning(spec.seed))
    check_members(plans, as_alone)
    store = open_store(specs[0].tracking)
    run_ids = [store.start_run(plan.spec.run_name, {**run_tags(plan.spec), "aebench.vectorized_members": str(len(seeds)),
                                                    "aebench.training_path": "fast",
                                                    **member_tags},
                               plan.params(), parent_run_id=parent_run_id)
               for plan, member_tags in zip(plans, tags)]
    for plan, run_id in zip(plans, run_ids):
        log_data(store, run_id, plan)
    ensemble = SeedEnsemble([plan.model for plan in plans], seeds, patience=specs[0].trainer.patience,
                            draw_states=draw_states)
    ensemble.epoch_loggers = [_loggers(store, run_id, specs[0]) for run_id in run_ids]
    trainer = build_trainer(specs[0], select=False)  # the ensemble selects each seed's epoch itself
    started = time.perf_counter()
    try:
        trainer.fit(ensemble, datamodule=SeedDataModule(plans[0].datamodule, seeds, specs[0].trainer.steps_per_call))
    except BaseException as error:
        for run_id in run_ids:
            end_failed(store, run_id, error)
        raise
    share = (time.perf_counter() - started) / len(seeds)  # each seed's share of the vectorised fit
    ensemble.unstack()
    results = []
    for index, (seed, plan, run_id) in enumerate(zip(seeds, plans, run_ids)):
        if index in ensemble.diverged:
            store.client.set_tag(run_id, "failure_reason", ensemble.diverged[index])
            store.finish_run(run_id, "FAILED")
            results.append(RunResult(run_id, "FAILED"))
            continue
        with tracked(store, run_id):
            results.append(RunResult(run_id, "FINISHED", _evaluate(plan, store, run_id, share,
                                                                   ensemble.selection.summary(index))))
    return results


def _probe(plan: RunPlan, test_codes: np.ndarray) -> dict[str, float]:
    """Linear and nearest-neighbour probes of the codes, where the dataset has labels."""
    datamodule = plan.datamodule
    if datamodule.labels("train") is None:
        return {}
    def codes(split: str) -> np.ndarray:
        return encode_all(plan.model, plan.model.task.clean_input(datamodule.inputs(split))).numpy()

    val_labels = datamodule.labels("val")
    val = None if val_labels is None or len(val_labels) == 0 else (codes("val"), val_labels.numpy())
    return probe_accuracies(codes("train"), datamodule.labels("train").numpy(), test_codes,
                            datamodule.labels("test").numpy(), val)


def grid_rows(model: Autoencoder, originals: torch.Tensor) -> list[torch.Tensor]:
    """The rows of a reconstruction grid: originals above the model's output, or for a task that
    transforms the input, the model's input, its output and the original."""
    originals = originals.to(model.device)
    task_input = model.task.test_input(originals, 0)
    outputs = model(task_input).float()
    return [originals, outputs] if model.task.name == "reconstruct" else [task_input, outputs, originals]


def _log_artifacts(plan: RunPlan, store: TrackingStore, run_id: str, test_codes: np.ndarray,
                   extra: Mapping[str, bytes]) -> None:
    store.client.log_text(run_id, plan.spec.yaml(), "config.yaml")
    with tempfile.TemporaryDirectory() as folder:
        log_code_map(store, run_id, code_map(test_codes), plan.datamodule.labels("test"))
        if plan.datamodule.arrays.is_image:
            model = plan.model.eval()
            with torch.no_grad():
                rows = grid_rows(model, plan.datamodule.inputs("test")[:GRID_IMAGES])
            pairs = plan.datamodule.inputs("test")[:GRID_PAIRS * 2]
            figures = {"reconstructions.png": rows,
                       "traversals.png": traversal_rows(model, torch.from_numpy(test_codes)),  # _evaluate's codes
                       "interpolations.png": interpolation_rows(model, model.task.clean_input(pairs), pairs,
                                                                pairs=GRID_PAIRS)}
            for name, grid in figures.items():
                save_image_grid(grid, Path(folder) / name)
                store.client.log_artifact(run_id, str(Path(folder) / name))
        for name, content in extra.items():
            (Path(folder) / name).write_bytes(content)
            store.client.log_artifact(run_id, str(Path(folder) / name))
        if plan.spec.tracking.log_model:
            weights = Path(folder) / "model.pt"
            save_autoencoder(plan.model, weights)
            store.client.log_artifact(run_id, str(weights))
            example = plan.model.task.test_input(plan.datamodule.inputs("val")[:MODEL_EXAMPLES], 0)
            log_mlflow_model(store, run_id, plan.model, example)
