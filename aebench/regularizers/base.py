"""What a regularizer is: a corruption of the training input, a penalty added to the loss, or both."""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from aebench.models.autoencoder import Autoencoder


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
    seed_batched: bool = False  # seed_penalty exists: K seeds train as batched products (aebench.seed_batched)

    def bind(self, model: "Autoencoder") -> None:
        """Called once with the model it will train; raise ConfigError if the pair cannot work."""

    @property
    def needs_input_grad(self) -> bool:
        """The penalty differentiates the code with respect to the inputs."""
        return False

    def corrupt(self, x: torch.Tensor) -> torch.Tensor:
        return x

    @property
    def corrupts(self) -> bool:
        """``corrupt`` changes its input (it is overridden)."""
        return type(self).corrupt is not Regularizer.corrupt

    def penalty(self, model: "Autoencoder", inputs: torch.Tensor, code: torch.Tensor) -> torch.Tensor | None:
        return None

    def seed_penalty(self, weights: dict[str, torch.Tensor], inputs: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
        """The penalty of K seeds at once, shaped (K,): ``inputs`` (K, B, ...), ``code`` (K, B, C) and
        the model's weight matrices by parameter name, each stacked over seeds (K, ...). Only where
        ``seed_batched``."""
        raise NotImplementedError(f"{self.name} has no seed-batched penalty")
