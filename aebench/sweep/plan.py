"""The jobs of a sweep, exactly as Hydra's sweeper will launch them, each checked before any runs."""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Iterator

from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from omegaconf import DictConfig

from aebench.config import config_dir
from aebench.errors import ConfigError
from aebench.run.plan import (
    build_model,
    checked_parts,
    is_seed_list,
    seed_config,
)
from aebench.run.spec import RunSpec
from aebench.sweep.keys import member_key, run_key


@dataclass
class PlannedJob:
    overrides: list[str]
    run_key: str
    label: str                 # dataset model regularizer seed, for people
    skip_reason: str | None    # the rule (or the one-line error) that refuses it
    cfg: DictConfig            # the job's config, as the job will see it
    spec: RunSpec | None       # its spec, where the config resolves into one

    @property
    def is_trial(self) -> bool:
        """A tuned sweep's trial (``aebench.sweep.tuning``)."""
        return any(override.startswith("sweep.trial=") for override in self.overrides)

    @property
    def combination_label(self) -> str:
        """A trial's label up to its seed (its combination); any other job's label."""
        return self.label.split(" seed=")[0] if self.is_trial else self.label


AXES = ("dataset", "model", "regularizer", "task", "seed")  # always in a label (the task unless reconstruct)


def job_label(spec: RunSpec, swept: list[str] = ()) -> str:
    """``digits deep l2 seed=1`` (``task=compress`` before the seed for a task other than reconstruct),
    then the value of every other setting the sweep varies."""
    task = [] if spec.task.name == "reconstruct" else [f"task={spec.task.name}"]
    others = [f"{key}={spec.value(key)}" for key in swept if spec.value(key) is not None]
    return " ".join([spec.dataset.name, spec.model.name, spec.regularizer.label, *task, f"seed={spec.seed}", *others])


def job_kind(job: "PlannedJob") -> str:
    """``digits deep l2 reconstruct``: what a run's cost depends on most, for the sweep's ETA."""
    spec = job.spec
    return "" if spec is None else f"{spec.dataset.name} {spec.model.name} {spec.regularizer.label} {spec.task.name}"


def swept_settings(jobs: list[list[str]]) -> list[str]:
    """Keys beyond the usual axes whose value differs between jobs (``trainer.lr``, ``model.code_dim``)."""
    values: dict[str, set[str]] = {}
    for overrides in jobs:
        for override in overrides:
            key, _, value = override.partition("=")
            values.setdefault(key.lstrip("+~"), set()).add(value)
    return [key for key, seen in values.items() if len(seen) > 1 and key not in AXES and not key.startswith("sweep.")]


def sweep_overrides(cfg: DictConfig) -> list[list[str]]:
    """Every job's overrides, as the basic sweeper expands them: the sweep config's
    ``hydra.sweeper.params`` first, then the command line's (which win on the same key)."""
    params = [f"{key}={value}" for key, value in cfg.hydra.sweeper.params.items()]
    loader = GlobalHydra.instance().config_loader()
    parsed = OverridesParser.create(config_loader=loader).parse_overrides(params + list(cfg.hydra.overrides.task))
    return BasicSweeper.split_arguments(parsed, max_batch_size=None)[0]


def checked_spec(job_cfg: DictConfig) -> tuple[RunSpec | None, str | None]:
    """The job's spec, and why this combination cannot run (checked the way a single run checks
    it) or None."""
    try:
        spec = RunSpec.of(job_cfg)
    except ConfigError as error:
        return None, str(error)
    try:
        build_model(spec, *checked_parts(spec))
    except ConfigError as error:
        return spec, str(error)
    return spec, None


def changes_composition(override: Override) -> bool:
    """A config group choice (``model=deep``, ``+regularizer@...=l2``) rather than a value (``seed=1``)."""
    key = override.key_or_group
    groups = {folder.name for folder in config_dir().iterdir() if folder.is_dir()}
    return override.package is not None or "/" in key or key in groups or key.startswith("hydra")


def job_configs(cfg: DictConfig, jobs: list[list[str]]) -> Iterator[DictConfig]:
    """Each job's config as Hydra composes it, composing once per distinct set of group choices
    (composition costs ~0.1 s) and applying the value overrides to a copy, as Hydra itself does."""
    loader = GlobalHydra.instance().config_loader()
    parser = OverridesParser.create(config_loader=loader)
    composed: dict[tuple[str, ...], DictConfig] = {}
    for overrides in jobs:
        parsed = parser.parse_overrides(list(overrides))
        choices = tuple(o.input_line for o in parsed if changes_composition(o))
        if choices not in composed:
            composed[choices] = loader.load_sweep_config(cfg, list(choices))
        job_cfg = copy.deepcopy(composed[choices])
        ConfigLoaderImpl._apply_overrides_to_config([o for o in parsed if not changes_composition(o)], job_cfg)
        yield job_cfg


def plan_sweep(cfg: DictConfig) -> tuple[list[PlannedJob], list[str]]:
    """The runs (a job with a seed list trains several), and the settings they vary beyond dataset,
    model, regularizer and seed."""
    return plan_jobs(cfg, sweep_overrides(cfg))


def plan_jobs(cfg: DictConfig, jobs: list[list[str]], swept: list[str] | None = None
              ) -> tuple[list[PlannedJob], list[str]]:
    """``jobs`` (lists of overrides) checked and labelled; ``swept``: the settings labels show
    (by default those that vary among ``jobs``)."""
    swept = swept_settings(jobs) if swept is None else swept
    planned = []
    for overrides, job_cfg in zip(jobs, job_configs(cfg, jobs)):
        for run_cfg in ([seed_config(job_cfg, seed) for seed in job_cfg.seed] if is_seed_list(job_cfg) else [job_cfg]):
            spec, reason = checked_spec(run_cfg)
            label = job_label(spec, swept) if spec is not None else " ".join(overrides)
            key = member_key(run_cfg, job_cfg.seed) if is_seed_list(job_cfg) and spec is not None else run_key(run_cfg)
            planned.append(PlannedJob(list(overrides), key, label, reason, run_cfg, spec))
    return planned, swept
