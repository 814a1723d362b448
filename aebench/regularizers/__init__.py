"""Regularizers by name, built from the ``regularizer`` config group.

A config is either one regularizer (``name`` and its fields) or a combination, whose
``terms`` map a label to one regularizer each (see ``conf/regularizer/sparse_kl_denoising.yaml``).
A new regularizer is one module here (a ``@register_regularizer`` class) and one file in
``conf/regularizer/``: every module of this package is imported below, so nothing else changes.
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import Any, Mapping

from aebench.config import SEARCH_SPACE
from aebench.errors import ConfigError
from aebench.regularizers.base import REGULARIZERS, Regularizer, register_regularizer
from aebench.regularizers.contractive import Contractive
from aebench.regularizers.denoising import Denoising
from aebench.regularizers.l2 import L2
from aebench.regularizers.sparse_kl import SparseKL
from aebench.regularizers.sparse_l1 import SparseL1

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")  # each registers its regularizers
NONE = "none"


def list_regularizers() -> list[str]:
    return [NONE, *REGULARIZERS.names()]


def create_regularizer(name: str, **options: Any) -> Regularizer:
    return REGULARIZERS.build(name, **options)


def regularizer_terms(config: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(config path, fields) of each regularizer a ``regularizer`` section names, in its order."""
    if "terms" in config:
        return [(f"terms.{label}", term) for label, term in config["terms"].items()]
    return [] if config.get("name", NONE) == NONE else [("", config)]


def build_regularizers(config: Mapping[str, Any]) -> list[Regularizer]:
    """The regularizers of a ``regularizer`` config section (a plain mapping)."""
    built = []
    for path, term in regularizer_terms(config):
        options = {k: v for k, v in term.items() if k not in ("name", SEARCH_SPACE)}  # ranges tune, not build
        try:
            built.append(create_regularizer(term.get("name", NONE), **options))
        except ConfigError as error:
            raise error.in_group(path.strip(".")) if path else error from None
    names = [r.name for r in built]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ConfigError("terms", names, f"each regularizer at most once ({', '.join(duplicated)} repeats)")
    return built


def regularizer_label(config: Mapping[str, Any]) -> str:
    """``none``, a regularizer's name, or the names of a combination joined by ``+``."""
    terms = regularizer_terms(config)
    return "+".join(term.get("name", NONE) for _, term in terms) if terms else NONE


__all__ = ["REGULARIZERS", "Contractive", "Denoising", "L2", "Regularizer", "SparseKL", "SparseL1",
           "build_regularizers", "create_regularizer", "list_regularizers", "register_regularizer",
           "regularizer_label", "regularizer_terms"]
