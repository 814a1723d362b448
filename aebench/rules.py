"""The declared table of combinations aebench refuses, each with its reason.

A single run stops at the first rule a config breaks, with that rule's one line; a sweep
skips the combination and lists the reason. Rules read only the config and what the dataset
declares of itself, so they are decided before any model is built.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from omegaconf import DictConfig

from aebench.data import DatasetArrays
from aebench.errors import ConfigError
from aebench.regularizers import build_regularizers, regularizer_label
from aebench.regularizers.sparse_kl import UNIT_INTERVAL_ACTIVATIONS


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


def code_activation_of(model: DictConfig) -> str:
    """The code layer's activation: ``code_activation``, else ``activation`` (shallow models), else identity."""
    return model.get("code_activation") or model.get("activation") or "identity"


def describe(cfg: DictConfig, arrays: DatasetArrays) -> Combination:
    regularizers = build_regularizers(cfg.regularizer)
    noise = next((r.noise for r in regularizers if r.name == "denoising"), None)
    return Combination(dataset=cfg.dataset.name, model=cfg.model.name,
                       regularizers=tuple(r.name for r in regularizers),
                       regularizer_label=regularizer_label(cfg.regularizer), sample_shape=arrays.sample_shape,
                       is_image=arrays.is_image,
                       unit_range=arrays.unit_range, code_activation=code_activation_of(cfg.model),
                       loss=cfg.model.get("loss", "mse"), noise=noise)


@dataclass(frozen=True)
class Rule:
    name: str
    breaks: Callable[[Combination], bool]
    error: Callable[[Combination], ConfigError]


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
)


def first_broken_rule(combination: Combination) -> ConfigError | None:
    for rule in RULES:
        if rule.breaks(combination):
            return rule.error(combination)
    return None
