"""Autoencoder variants by name: each is a function building an :class:`Autoencoder`, registered
with what it declares before it is built (:class:`ModelCard`): what it needs of the run, and
what its code is, so the rule table checks a combination without building the model."""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from aebench.models.autoencoder import MODEL_NEEDS, TRAINING_OPTIONS, Autoencoder
from aebench.needs import Facts, Need
from aebench.registry import Registry

MODELS: Registry[Callable[..., Autoencoder]] = Registry("model", extra_options=TRAINING_OPTIONS)


@dataclass(frozen=True)
class ModelCard:
    """What variant ``name`` declares: its own needs (beside :data:`MODEL_NEEDS`, every variant's),
    the option that names its code layer's activation (None: the code is affine, ``identity``),
    and whether its code is wider than its input by construction."""

    name: str
    needs: tuple[Need, ...] = ()
    code_activation_option: str | None = None
    code_larger_than_input: bool = False
    # the facts each extra training stage presents to the regularizers (stacked: one shallow autoencoder
    # per layer), from the options and the whole model's facts; the rule table checks their needs there too
    stage_facts: Callable[[Mapping[str, Any], Facts], list[Facts]] | None = None

    def options_with_defaults(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """``options`` with the builder's defaults for what they leave out."""
        parameters = inspect.signature(MODELS.get(self.name)).parameters
        defaults = {name: p.default for name, p in parameters.items() if p.default is not inspect.Parameter.empty}
        return {**defaults, **options}

    def code_activation(self, options: Mapping[str, Any]) -> str:
        """The code layer's activation with ``options``: the option's value, else the builder's default."""
        if self.code_activation_option is None:
            return "identity"
        return self.options_with_defaults(options)[self.code_activation_option]

    @property
    def all_needs(self) -> tuple[Need, ...]:
        return (*self.needs, *MODEL_NEEDS)


CARDS: dict[str, ModelCard] = {}


def register_model(builder: Callable[..., Autoencoder] | None = None, *, needs: Sequence[Need] = (),
                   code_activation: str | None = None, code_larger_than_input: bool = False,
                   stage_facts: Callable[[Mapping[str, Any], Facts], list[Facts]] | None = None):
    """Decorator, bare (``@register_model``) or with the variant's declarations
    (``@register_model(code_activation="activation", needs=(...))``): ``model=<function name>``."""
    def register(function: Callable[..., Autoencoder]) -> Callable[..., Autoencoder]:
        MODELS.register(function, function.__name__)
        CARDS[function.__name__] = ModelCard(function.__name__, tuple(needs), code_activation, code_larger_than_input,
                                             stage_facts)
        return function

    return register if builder is None else register(builder)


def model_card(name: str) -> ModelCard:
    MODELS.get(name)  # an unknown name fails naming the known ones
    return CARDS[name]


def list_models() -> list[str]:
    return MODELS.names()


def create_model(name: str, **options) -> Autoencoder:
    """Build variant ``name`` with its architecture options and the training options of
    :class:`Autoencoder` (loss, lr, ...); an unknown name or option fails with the known ones."""
    return MODELS.build(name, **options)
