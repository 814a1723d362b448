"""The declared table of combinations aebench refuses, each with its reason.

A single run stops at the first rule a config breaks, with that rule's one line; a sweep
skips the combination and lists the reason. Rules read only the config and what the dataset
declares of itself, so they are decided before any model is built.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from omegaconf import DictConfig, OmegaConf

from aebench.data import DatasetArrays
from aebench.errors import ConfigError
from aebench.regularizers import Regularizer, build_regularizers, regularizer_label
from aebench.regularizers.sparse_kl import UNIT_INTERVAL_ACTIVATIONS
from aebench.tasks import Task, build_task


@dataclass(frozen=True)
class Combination:
    """What the rules look at."""

    dataset: str
    model: str
    regularizers: tuple[str, ...]
    regularizer_label: str
    sample_shape: tuple[int, ...]
    is_image: bool
    unit_range: bool
    code_activation: str
    loss: str
    noise: str | None
    task: str
    task_needs: tuple[str, ...]
    task_reshapes: bool        # the encoder's input is shaped unlike the sample (colorize)
    has_labels: bool
    code_dim: int | None


def code_activation_of(model: DictConfig) -> str:
    """The code layer's activation: ``code_activation``, else ``activation`` (shallow models), else identity."""
    return model.get("code_activation") or model.get("activation") or "identity"


def describe(cfg: DictConfig, arrays: DatasetArrays, regularizers: Sequence[Regularizer] | None = None,
             task: Task | None = None) -> Combination:
    """What the rules look at, from the config and the dataset; ``regularizers`` and ``task`` as a
    run builds them from the config (built here when not given)."""
    regularizers = build_regularizers(cfg.regularizer) if regularizers is None else regularizers
    task = build_task(OmegaConf.to_container(cfg.task, resolve=True)) if task is None else task
    noise = next((r.noise for r in regularizers if r.name == "denoising"), None)
    return Combination(dataset=cfg.dataset.name, model=cfg.model.name,
                       regularizers=tuple(r.name for r in regularizers),
                       regularizer_label=regularizer_label(cfg.regularizer), sample_shape=arrays.sample_shape,
                       is_image=arrays.is_image,
                       unit_range=arrays.unit_range, code_activation=code_activation_of(cfg.model),
                       loss=cfg.model.get("loss", "mse"), noise=noise, task=task.name, task_needs=task.needs,
                       task_reshapes=task.model_input_shape(arrays.sample_shape) != arrays.sample_shape,
                       has_labels=arrays.labels is not None, code_dim=cfg.model.get("code_dim"))


@dataclass(frozen=True)
class Rule:
    name: str
    breaks: Callable[[Combination], bool]
    error: Callable[[Combination], ConfigError]


def _lacks(c: Combination) -> str | None:
    """The first thing the task needs that the data is not."""
    have = {"images": c.is_image, "colour": c.is_image and c.sample_shape[0] == 3, "labels": c.has_labels,
            "unit_range": c.unit_range}
    return next((need for need in c.task_needs if not have[need]), None)


NEED_WORDS = {"images": "images", "colour": "colour images (3 channels)", "labels": "labelled data",
              "unit_range": "data in [0, 1]"}


def _gives(c: Combination, need: str) -> str:
    """What the data gives instead of ``need``."""
    if need == "labels":
        return "no labels"
    if need == "unit_range":
        return "values not scaled to [0, 1]"
    return f"samples shaped {c.sample_shape}"


RULES: tuple[Rule, ...] = (
    Rule("conv needs images",
         lambda c: c.model == "conv" and not c.is_image,
         lambda c: ConfigError("model", c.model, "model=conv needs images shaped (channels, height, width); "
                               f"dataset={c.dataset} gives vectors shaped {c.sample_shape}")),
    Rule("sparse_kl needs codes in (0, 1)",
         lambda c: "sparse_kl" in c.regularizers and c.code_activation not in UNIT_INTERVAL_ACTIVATIONS,
         lambda c: ConfigError("regularizer", c.regularizer_label, "regularizer=sparse_kl needs code activations "
                               "in (0, 1), a sigmoid code layer; the code activation of "
                               f"model={c.model} is {c.code_activation}")),
    Rule("bce needs data in [0, 1]",
         lambda c: c.loss == "bce" and not c.unit_range,
         lambda c: ConfigError("model.loss", c.loss, f"mse or l1: dataset={c.dataset} is not scaled to [0, 1]")),
    Rule("salt_pepper needs data in [0, 1]",
         lambda c: c.noise == "salt_pepper" and not c.unit_range,
         lambda c: ConfigError("regularizer.noise", c.noise, f"gaussian or masking: dataset={c.dataset} is not "
                               "scaled to [0, 1], so salt-and-pepper values 0 and 1 mean nothing")),
    Rule("a task needs its kind of data",
         lambda c: _lacks(c) is not None,
         lambda c: ConfigError("task", c.task, f"a task for this data: task={c.task} needs {NEED_WORDS[_lacks(c)]}, "
                               f"and dataset={c.dataset} gives {_gives(c, _lacks(c))}")),
    Rule("stacked reconstructs its own input",
         lambda c: c.model == "stacked" and c.task_reshapes,
         lambda c: ConfigError("model", c.model, f"a model other than stacked for task={c.task}: each layer-wise "
                               "pretraining stage of stacked reconstructs its own input, which this task reshapes")),
    Rule("denoise corrupts the input once",
         lambda c: c.task == "denoise" and "denoising" in c.regularizers,
         lambda c: ConfigError("regularizer", c.regularizer_label, "a regularizer without denoising: task=denoise "
                               "corrupts the input already (set its noise with task.noise)")),
    Rule("visualize needs a code smaller than the input",
         lambda c: c.task == "visualize" and c.model == "overcomplete",
         lambda c: ConfigError("model", c.model, "a model with a 2-D code for task=visualize: model=overcomplete "
                               "has a code larger than its input")),
    Rule("visualize needs a 2-D code",
         lambda c: c.task == "visualize" and c.code_dim != 2,
         lambda c: ConfigError("model.code_dim", c.code_dim, "2 for task=visualize (it plots the code itself)")),
)


def first_broken_rule(combination: Combination) -> ConfigError | None:
    for rule in RULES:
        if rule.breaks(combination):
            return rule.error(combination)
    return None
