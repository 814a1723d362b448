"""The rule table: the combinations aebench refuses, each with its reason, as the plugins declare them.

Nothing is written here per plugin: each model (its :class:`~aebench.models.registry.ModelCard`),
regularizer and task declares its own needs (``aebench.needs``), and the table evaluates them
against the facts of a combination, in that order. A single run stops at the first unmet need
with its one line; a sweep skips the combination and lists the reason. The facts come from the
run's spec and what the dataset declares of itself, so they are decided before any model is built.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from omegaconf import DictConfig

from aebench.data import DatasetArrays
from aebench.errors import ConfigError
from aebench.models.registry import model_card
from aebench.needs import Facts, Need
from aebench.regularizers import Regularizer, build_regularizers
from aebench.run.spec import RunSpec
from aebench.tasks import Task, build_task


@dataclass(frozen=True)
class Combination:
    """What the rules look at: each need of the combination's plugins with the facts it is checked
    against (the whole run's, or a training stage's: stacked pretrains one layer at a time)."""

    checks: tuple[tuple[Need, Facts], ...]


def describe(spec: "RunSpec | DictConfig", arrays: DatasetArrays, regularizers: Sequence[Regularizer] | None = None,
             task: Task | None = None) -> Combination:
    """The facts of a combination, from its spec and the dataset, and its plugins' needs;
    ``regularizers`` and ``task`` as a run builds them (built here when not given)."""
    spec = RunSpec.of(spec)
    regularizers = build_regularizers(spec.regularizer.section) if regularizers is None else regularizers
    task = build_task({"name": spec.task.name, **spec.task.options}) if task is None else task
    card = model_card(spec.model.name)
    options = spec.model.options
    facts = Facts(arrays.sample_shape, dataset=spec.dataset.name, labels=arrays.labels is not None,
                  ratings=arrays.ratings,
                  unit_range=arrays.unit_range, standardized=arrays.standardize, model=card.name, code_activation=card.code_activation(options),
                  code_dim=options.get("code_dim"), code_larger_than_input=card.code_larger_than_input,
                  loss=options.get("loss", "mse"), regularizer=spec.regularizer.label,
                  corrupting_regularizers=tuple(r.name for r in regularizers if r.corrupts), task=task.name,
                  task_reshapes_input=task.model_input_shape(arrays.sample_shape) != arrays.sample_shape,
                  task_masks_loss=task.masks_loss,
                  options=tuple(card.options_with_defaults(options).items()))
    regularizer_needs = [need for r in regularizers for need in r.needs()]
    checks = [(need, facts) for need in (*card.all_needs, *regularizer_needs, *task.needs())]
    stages = card.stage_facts(card.options_with_defaults(options), facts) if card.stage_facts else []
    checks += [(need, stage) for stage in stages for need in regularizer_needs]
    return Combination(tuple(checks))


def first_broken_rule(combination: Combination) -> ConfigError | None:
    """The error of the first need of the combination that its facts do not meet, or None."""
    return next((need.error(facts) for need, facts in combination.checks if not need.met(facts)), None)
