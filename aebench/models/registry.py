"""Autoencoder variants by name: each is a function building an :class:`Autoencoder`."""
from __future__ import annotations

from typing import Callable

from aebench.models.autoencoder import TRAINING_OPTIONS, Autoencoder
from aebench.registry import Registry

MODELS: Registry[Callable[..., Autoencoder]] = Registry("model", extra_options=TRAINING_OPTIONS)
register_model = MODELS.register


def list_models() -> list[str]:
    return MODELS.names()


def create_model(name: str, **options) -> Autoencoder:
    """Build variant ``name`` with its architecture options and the training options of
    :class:`Autoencoder` (loss, lr, ...); an unknown name or option fails with the known ones."""
    return MODELS.build(name, **options)
