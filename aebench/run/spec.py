"""Typed specs: the composed config, resolved and checked once, as frozen dataclasses.

Hydra's ``DictConfig`` stops at :func:`RunSpec.of`; what is built from it (the datamodule, the
model, the trainer) and what is written about it (run name, tags, params, rule facts, run keys)
reads these. Options specific to one dataset, model, regularizer or task stay a read-only
mapping, checked by the plugin that takes them.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping

from omegaconf import DictConfig, OmegaConf

from aebench.config import resolved
from aebench.errors import ConfigError, require, require_choice, require_int, require_number
from aebench.evaluate.metrics import MetricOptions
from aebench.models.schedules import SCHEDULES
from aebench.regularizers import regularizer_label, regularizer_terms

SPLIT_OPTIONS = ("split_seed", "val_fraction", "test_fraction")
MODEL_TRAINING_KEYS = ("lr",)  # a model config's own learning rate, read as trainer.lr (conf/trainer/default.yaml)
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


def frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


def validate_seed(seed) -> int:
    return require_int("seed", seed, minimum=0, maximum=MAX_SEED)


@dataclass(frozen=True)
class PluginSpec:
    """A dataset, model or task: its registered name and its own options."""

    name: str
    options: Mapping[str, Any]

    @classmethod
    def of(cls, section: Mapping[str, Any], skip: tuple[str, ...] = (), default: str | None = None) -> "PluginSpec":
        name = section.get("name", default)
        return cls(name, frozen({k: v for k, v in section.items() if k != "name" and k not in skip}))


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset: its name, its own options, and how it is split (where the config sets it)."""

    name: str
    options: Mapping[str, Any]
    split: Mapping[str, Any]      # split_seed, val_fraction, test_fraction

    @classmethod
    def of(cls, section: Mapping[str, Any]) -> "DatasetSpec":
        plugin = PluginSpec.of(section, skip=SPLIT_OPTIONS)
        return cls(plugin.name, plugin.options, frozen({k: section[k] for k in SPLIT_OPTIONS if k in section}))


@dataclass(frozen=True)
class RegularizerTerm:
    path: str                    # where its fields are in the config: "" or "terms.<label>"
    name: str
    options: Mapping[str, Any]


@dataclass(frozen=True)
class RegularizerSpec:
    """One regularizer or a combination (``terms``), in the config's order, and its label: ``none``,
    a regularizer's name, or the names of a combination joined by ``+``."""

    terms: tuple[RegularizerTerm, ...]
    label: str
    section: Mapping[str, Any]    # the config section itself, as ``build_regularizers`` reads it

    @classmethod
    def of(cls, section: Mapping[str, Any]) -> "RegularizerSpec":
        terms = tuple(RegularizerTerm(path, term.get("name", "none"),
                                      frozen({k: v for k, v in term.items() if k != "name"}))
                      for path, term in regularizer_terms(section))
        return cls(terms, regularizer_label(section), frozen(section))


@dataclass(frozen=True)
class TrainerSpec:
    max_epochs: int
    patience: int | None          # early stopping: epochs without a lower val/loss; None trains max_epochs
    batch_size: int
    lr: float
    lr_schedule: str
    fast: bool
    steps_per_call: int
    accelerator: str
    devices: Any                  # a count, a list of device indices, or "auto"
    strategy: str
    precision: str
    progress_bar: bool
    threads: int | None

    @classmethod
    def of(cls, section: Mapping[str, Any]) -> "TrainerSpec":
        with config_group("trainer"):
            devices = section["devices"]
            require(devices == "auto" or (isinstance(devices, int) and devices >= 1) or
                    (isinstance(devices, list) and len(devices) > 0), "devices", devices,
                    "a count >= 1, a list of device indices, or auto")
            threads = section.get("threads")
            require(isinstance(section["fast"], bool), "fast", section["fast"], "true or false")
            patience = section.get("patience")
            return cls(max_epochs=require_int("max_epochs", section["max_epochs"], minimum=0),
                       patience=None if patience is None else require_int("patience", patience, minimum=1),
                       batch_size=require_int("batch_size", section["batch_size"], minimum=1),
                       lr=require_number("lr", section["lr"], minimum=0.0, open_minimum=True),
                       lr_schedule=require_choice("lr_schedule", section.get("lr_schedule", "none"), SCHEDULES),
                       fast=section["fast"],
                       steps_per_call=require_int("steps_per_call", section["steps_per_call"], minimum=1),
                       accelerator=require_choice("accelerator", section["accelerator"], ACCELERATORS),
                       devices=tuple(devices) if isinstance(devices, list) else devices,
                       strategy=section["strategy"],
                       precision=require_choice("precision", str(section["precision"]), PRECISIONS),
                       progress_bar=bool(section["progress_bar"]),
                       threads=None if threads is None else require_int("threads", threads, minimum=1))


def metric_options(section: Mapping[str, Any]) -> MetricOptions:
    with config_group("metrics"):
        projections = section["jacobian_projections"]
        return MetricOptions(
            zero_threshold=require_number("zero_threshold", section["zero_threshold"], minimum=0.0),
            denoise_std=require_number("denoise_std", section["denoise_std"], minimum=0.0),
            saturation_margin=require_number("saturation_margin", section["saturation_margin"], 0.0, 0.5),
            jacobian_projections=None if projections is None else require_int("jacobian_projections",
                                                                               projections, minimum=1),
            transfer=transfer_names(section.get("transfer") or []))


def transfer_names(value: Any) -> tuple[str, ...]:
    require(isinstance(value, (list, tuple)) and all(isinstance(name, str) for name in value), "transfer", value,
            "a list of dataset names, e.g. [mnist,fashion_mnist,kmnist]")
    return tuple(dict.fromkeys(value))


@dataclass(frozen=True)
class TrackingSpec:
    uri: str
    experiment: str
    log_model: bool
    flush_seconds: float = 2.0    # epoch metrics written together at most this often, and before the run ends
    log_images: bool = True       # validation reconstructions while training (aebench.tracking.snapshots)


@dataclass(frozen=True)
class RunSpec:
    """One run's config, resolved and checked once (a seed list is split into one spec per seed first)."""

    seed: int
    dataset: DatasetSpec
    model: PluginSpec
    regularizer: RegularizerSpec
    task: PluginSpec
    trainer: TrainerSpec
    metrics: MetricOptions
    tracking: TrackingSpec
    config: Mapping[str, Any]     # the whole resolved config, for the run key and the config.yaml artifact

    @classmethod
    def of(cls, cfg: "DictConfig | RunSpec") -> "RunSpec":
        """The spec of a composed config (a spec is returned as it is)."""
        if isinstance(cfg, RunSpec):
            return cfg
        config = resolved(cfg)
        tracking = config["tracking"]
        return cls(seed=validate_seed(config["seed"]), dataset=DatasetSpec.of(config["dataset"]),
                   model=PluginSpec.of(config["model"], skip=MODEL_TRAINING_KEYS),
                   regularizer=RegularizerSpec.of(config["regularizer"]),
                   task=PluginSpec.of(config["task"], default="reconstruct"), trainer=TrainerSpec.of(config["trainer"]),
                   metrics=metric_options(config["metrics"]),
                   tracking=TrackingSpec(tracking["uri"], tracking["experiment"], bool(tracking["log_model"]),
                                         require_number("tracking.flush_seconds", tracking.get("flush_seconds", 2.0),
                                                        minimum=0.0), bool(tracking.get("log_images", True))),
                   config=frozen(config))

    @property
    def title(self) -> str:
        """``digits / deep / l2``, and the task unless it is the default."""
        task = "" if self.task.name == "reconstruct" else f" / task {self.task.name}"
        return f"{self.dataset.name} / {self.model.name} / {self.regularizer.label}{task}"

    @property
    def run_name(self) -> str:
        task = "" if self.task.name == "reconstruct" else f"-{self.task.name}"
        return f"{self.dataset.name}-{self.model.name}-{self.regularizer.label}{task}-s{self.seed}"

    def params(self, code_dim: int | None = None, hidden_dims: list[int] | None = None) -> dict[str, Any]:
        """``{"model.code_dim": 16, ...}``: the resolved config flattened, for MLflow params, with the
        model's real code size and widths where the config leaves them to the model (``code_dim: null``,
        ``hidden_dims: auto``)."""
        flat: dict[str, Any] = {}

        def walk(node: Any, prefix: str) -> None:
            if isinstance(node, Mapping):
                for key, value in node.items():
                    walk(value, f"{prefix}{key}.")
            else:
                flat[prefix[:-1]] = node

        walk(self.config, "")
        if code_dim is not None:
            flat["model.code_dim"] = code_dim
        if hidden_dims is not None and flat.get("model.hidden_dims") == "auto":
            flat["model.hidden_dims"] = hidden_dims
        return flat

    def value(self, key: str) -> Any:
        """The resolved value at a dotted key (``trainer.lr``), or None where there is none."""
        node: Any = self.config
        for part in key.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return None
            node = node[part]
        return node

    def yaml(self) -> str:
        return OmegaConf.to_yaml(OmegaConf.create(dict(self.config)))
