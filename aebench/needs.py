"""What a plugin needs of the rest of a run, declared once by the plugin itself.

Every model, regularizer and task lists its :class:`Need` objects (``needs()``); each reads
the :class:`Facts` of a combination and, when unmet, names the setting to change and what is
allowed. The same declaration is checked twice, from one place: by the rule table before
anything is built (``aebench.run.rules``, from the config and the dataset), and by a model
assembled by hand in Python (from what the model knows of itself).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

from aebench.errors import ConfigError


@dataclass(frozen=True)
class Facts:
    """What is known of a combination before any model is built (defaults: a model built by hand)."""

    sample_shape: tuple[int, ...]
    dataset: str | None = None         # the dataset's name, where there is a config
    labels: bool = True                # a model built by hand has no data to ask: assumed
    ratings: bool = False              # a user x item rating matrix (aebench.data.ratings)
    unit_range: bool = True
    standardized: bool = True          # each feature scaled to mean 0, deviation 1 (a model built by hand: assumed)
    model: str = "model"
    code_activation: str = "identity"
    code_dim: int | None = None
    code_larger_than_input: bool = False
    loss: str = "mse"
    regularizer: str = "none"          # the regularizer's label (``sparse_kl+denoising``)
    corrupting_regularizers: tuple[str, ...] = ()
    task: str = "reconstruct"
    task_reshapes_input: bool = False  # the encoder's input is shaped unlike the sample (colorize)
    task_masks_loss: bool = False      # the task's losses count some values only (recommend: rated entries)
    options: tuple[tuple[str, Any], ...] = ()  # the model's options, for a variant's own needs (stacked's pretrain)

    def option(self, name: str, default: Any = None) -> Any:
        return dict(self.options).get(name, default)

    @property
    def images(self) -> bool:
        return len(self.sample_shape) == 3

    @property
    def colour(self) -> bool:
        return self.images and self.sample_shape[0] == 3

    @property
    def data(self) -> str:
        """``dataset=digits`` where the dataset is named, else ``the data``."""
        return "the data" if self.dataset is None else f"dataset={self.dataset}"


@dataclass(frozen=True)
class Need:
    """One thing a plugin needs: ``met(facts)``, else :meth:`error` blames ``field`` (its value
    read from the facts by ``value``) and says what is allowed."""

    name: str
    met: Callable[[Facts], bool]
    field: str
    value: Callable[[Facts], Any]
    allowed: Callable[[Facts], str]

    def error(self, facts: Facts) -> ConfigError:
        return ConfigError(self.field, self.value(facts), self.allowed(facts))


def first_unmet(needs: Iterable[Need], facts: Facts) -> ConfigError | None:
    """The error of the first need the facts do not meet, or None."""
    for need in needs:
        if not need.met(facts):
            return need.error(facts)
    return None


def check_needs(needs: Iterable[Need], facts: Facts) -> None:
    error = first_unmet(needs, facts)
    if error is not None:
        raise error


# what a task may need of its data: (is it there, what the task needs in words, what the data gives instead)
DATA_KINDS: dict[str, tuple[Callable[[Facts], bool], str, Callable[[Facts], str]]] = {
    "images": (lambda f: f.images, "images", lambda f: f"samples shaped {f.sample_shape}"),
    "colour": (lambda f: f.colour, "colour images (3 channels)", lambda f: f"samples shaped {f.sample_shape}"),
    "labels": (lambda f: f.labels, "labelled data", lambda f: "no labels"),
    "unit_range": (lambda f: f.unit_range, "data in [0, 1]", lambda f: "values not scaled to [0, 1]"),
    "ratings": (lambda f: f.ratings, "a user x item rating matrix (dataset=synthetic_ratings or movielens)",
                lambda f: "no ratings"),
}


def task_needs_data(kind: str) -> Need:
    """``task=<name>`` needs data of ``kind`` (a key of :data:`DATA_KINDS`)."""
    present, words, instead = DATA_KINDS[kind]
    return Need(f"the task needs {words}", present, "task", lambda f: f.task,
                lambda f: f"a task for this data: task={f.task} needs {words}, and {f.data} gives {instead(f)}")

