"""Stable identities: ``run_key`` names what a run computes, ``sweep_id`` the set of runs of a sweep."""
from __future__ import annotations

import copy
import hashlib
import json
from typing import Any, Iterable

from omegaconf import DictConfig

from aebench.config import resolved
from aebench.regularizers import build_regularizers
from aebench.run.spec import RunSpec
from aebench.tasks import build_task
from aebench.tasks.base import trains_on_clean_inputs

# settings that change where or how fast a run goes, not what it computes
EXECUTION_ONLY = {
    "tracking": None,  # every field
    "sweep": None,
    "hydra": None,
    "data_root": None,  # where dataset files are found (each dataset's root repeats it)
    "trainer": ("progress_bar", "accelerator", "devices", "strategy", "threads", "fast"),
}


def semantic_config(cfg: DictConfig | RunSpec) -> dict[str, Any]:
    """The resolved config without its execution-only settings."""
    container = copy.deepcopy(dict(cfg.config)) if isinstance(cfg, RunSpec) else resolved(cfg)
    if container.get("task") == {"name": "reconstruct"}:  # the default task: the key it had before tasks
        del container["task"]
    if "metrics" in container:
        container["metrics"] = metrics_key(container["metrics"])
    for section, fields in EXECUTION_ONLY.items():
        if section not in container:
            continue
        if fields is None:
            del container[section]
        else:
            for field in fields:
                container[section].pop(field, None)
    return container


def metrics_key(metrics: dict[str, Any]) -> dict[str, Any]:
    """The metrics section as it enters a key: no transfer datasets leave it as before they existed."""
    return {key: value for key, value in metrics.items() if not (key == "transfer" and not value)}


def digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def run_key(cfg: DictConfig | RunSpec) -> str:
    """Equal for two configs exactly when they train the same thing (same data, model,
    regularizer, seed and hyperparameters), wherever and however fast they run."""
    return digest(semantic_config(cfg))


def draws_random_inputs(spec: RunSpec) -> bool:
    """Whether training corrupts its inputs at random (a denoising term, or a task such as denoise,
    inpaint or dewatermark): the draws a seed gets depend on how it is trained."""
    task = build_task(spec.config.get("task") or {"name": "reconstruct"})
    return not trains_on_clean_inputs(task, build_regularizers(spec.regularizer.section))


def member_key(seed_cfg: DictConfig | RunSpec, seeds: Iterable[int]) -> str:
    """The run key of one seed of a vectorised seed list (``seed=[0,1,2]``). Where training draws
    random inputs, its key names the list: members now draw them as their runs alone do
    (``aebench.fast.member_draws``), but stores written before drew them for all seeds at once, and
    such a member must not stand in for its seed's own run. Elsewhere a member is its seed's own
    run, with that run's key."""
    key = run_key(seed_cfg)
    if not draws_random_inputs(RunSpec.of(seed_cfg)):
        return key
    return digest({"run_key": key, "vectorised_with": sorted(int(seed) for seed in seeds)})


def sweep_id(run_keys: Iterable[str]) -> str:
    """A sweep is the set of runs it holds: the same command again is the same sweep."""
    return digest(sorted(set(run_keys)))
