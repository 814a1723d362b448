"""Autoencoder variants by name: each is a function building an :class:`Autoencoder`."""
from __future__ import annotations

import inspect
from typing import Callable

from aebench.errors import ConfigError
from aebench.models.autoencoder import TRAINING_OPTIONS, Autoencoder

_MODELS: dict[str, Callable[..., Autoencoder]] = {}


def register_model(builder: Callable[..., Autoencoder]) -> Callable[..., Autoencoder]:
    """Register ``builder`` under its function name."""
    _MODELS[builder.__name__] = builder
    return builder


def list_models() -> list[str]:
    return sorted(_MODELS)


def create_model(name: str, **options) -> Autoencoder:
    """Build variant ``name`` with its architecture options and the training options of
    :class:`Autoencoder` (loss, lr, ...); an unknown name or option fails with the known ones."""
    if name not in _MODELS:
        raise ConfigError("name", name, "one of " + ", ".join(list_models()))
    builder = _MODELS[name]
    accepted = [p.name for p in inspect.signature(builder).parameters.values()
                if p.kind is not inspect.Parameter.VAR_KEYWORD] + list(TRAINING_OPTIONS)
    for option in options:
        if option not in accepted:
            raise ConfigError(option, options[option],
                              f"not an option of model {name}; its options are " + ", ".join(accepted))
    return builder(**options)
