"""What a regularizer is: a corruption of the training input, a penalty added to the loss, or both."""
from __future__ import annotations

import torch
from torch import nn

from aebench.needs import Need, check_needs
from aebench.registry import Registry

REGULARIZERS: Registry[type["Regularizer"]] = Registry("regularizer")


def register_regularizer(cls: type["Regularizer"]) -> type["Regularizer"]:
    """Class decorator: ``regularizer=<cls.name>`` builds ``cls`` (every module of this package is imported)."""
    return REGULARIZERS.register(cls, cls.name)


class Regularizer:
    """Base class. The training step calls, in order:

    1. ``corrupt(x)`` on the clean batch (identity unless overridden); the loss still
       compares the reconstruction with the clean ``x``;
    2. ``penalty(model, inputs, code)`` after encoding the (corrupted) ``inputs``; a
       tensor is added to the loss and logged as ``train/penalty/<name>``, ``None`` adds nothing.

    Validation and test never call either.
    """

    name: str = "regularizer"
    has_penalty: bool = True
    # the penalty is ``self.weight`` times a term that does not depend on it: trials that differ only in
    # the weight can train together, each member's penalty scaled (``aebench.fast.seeds``)
    weight_scales_penalty: bool = False
    # settings beside the weight that members trained together may each set apart: during a vectorised
    # step a penalty reads each as a tensor of the members' values (``aebench.fast.member_settings``), so
    # it must use them in tensor arithmetic only; a corruption is drawn with each member's own regularizer
    per_member: tuple[str, ...] = ()

    def needs(self) -> tuple[Need, ...]:
        """What it needs of the model and the data (``aebench.needs``): checked by the rule table
        before a run is built, and by :meth:`bind` for a model assembled by hand."""
        return ()

    def bind(self, model: nn.Module) -> None:
        """Called once with the autoencoder it will train; raises the ConfigError of an unmet need."""
        check_needs(self.needs(), model.facts())

    @property
    def needs_input_grad(self) -> bool:
        """The penalty differentiates the code with respect to the inputs."""
        return False

    @property
    def draws_at_random(self) -> bool:
        """The penalty draws random numbers (a stochastic estimate): a run's draws depend on how it is trained."""
        return False

    def corrupt(self, x: torch.Tensor) -> torch.Tensor:
        return x

    @property
    def corrupts(self) -> bool:
        """``corrupt`` changes its input (it is overridden)."""
        return type(self).corrupt is not Regularizer.corrupt

    def penalty(self, model: nn.Module, inputs: torch.Tensor, code: torch.Tensor) -> torch.Tensor | None:
        return None
