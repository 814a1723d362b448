"""Contractive penalty (Rifai, Vincent, Muller, Glorot & Bengio, ICML 2011):

    lambda * mean_b ||J_f(x_b)||_F^2,   J_f(x) = d h / d x, the encoder's Jacobian.

``projections``: ``auto`` (the default) is exact where that is cheap, a closed form for one
layer and a batched product of layer Jacobians for deeper fully connected encoders, and for any
other encoder (convolutional) the unbiased estimate from ``AUTO_PROJECTIONS`` random projection:
the exact norm there takes one vector-Jacobian product per code unit, 8.6x a plain step against
1.8x (BENCHMARKS.md). ``null`` is exact everywhere; P >= 1 estimates from P random projections
(Jacobian-vector products carried forward for fully connected encoders, vector-Jacobian products
for the others) wherever there is no closed form (see ``aebench.ops.jacobian``).
"""
from __future__ import annotations

import torch

from aebench.errors import require, require_int, require_number
from aebench.ops.jacobian import EncoderJacobian, closed_form_penalty
from aebench.regularizers.base import Regularizer, register_regularizer

AUTO = "auto"
AUTO_PROJECTIONS = 1  # random projections of the estimate ``auto`` takes for encoders without a cheap exact route


@register_regularizer
class Contractive(Regularizer):
    weight_scales_penalty = True  # weight * (a term without it)
    name = "contractive"

    def __init__(self, weight: float = 0.01, projections: int | str | None = AUTO):
        self.weight = require_number("weight", weight, minimum=0.0)
        require(projections in (AUTO, None) or not isinstance(projections, str), "projections", projections,
                "auto, null (exact) or an integer >= 1")
        self.projections = projections if projections in (AUTO, None) else \
            require_int("projections", projections, minimum=1)
        self.estimate: int | None = None  # the projections this model's penalty takes (None: exact), set by bind
        self._jacobian: EncoderJacobian | None = None
        self.closed_form: tuple[str, str] | None = None  # (its one encoder matrix's parameter name, activation name)

    def bind(self, model) -> None:
        super().bind(model)
        self._jacobian = EncoderJacobian(model.code_encoder)
        cheap = self._jacobian.route != "vector-Jacobian products"
        self.estimate = (None if cheap else AUTO_PROJECTIONS) if self.projections == AUTO else self.projections
        self._jacobian.keep_outputs()  # a deeper chain's penalty reads the layer outputs of the training pass
        if self._jacobian.route == "closed form":
            layer, _, activation_name = self._jacobian.chain[0]
            weight_name = next(name for name, p in model.named_parameters() if p is layer.weight)
            self.closed_form = (weight_name, activation_name)

    @property
    def jacobian(self) -> EncoderJacobian | None:
        """The route to the encoder's Jacobian norm, once bound to a model."""
        return self._jacobian

    @property
    def draws_at_random(self) -> bool:
        return self.estimate is not None  # random projections

    @property
    def needs_input_grad(self) -> bool:
        return self._jacobian.needs_input_grad()

    def penalty(self, model, inputs, code) -> torch.Tensor:
        if self.closed_form is not None:  # its gradient written out
            linear, _, activation = self._jacobian.chain[0]
            return closed_form_penalty(linear.weight, activation, code, self.weight)
        squared = self._jacobian.sq_norm(inputs, code, self.estimate, create_graph=True)
        return self.weight * squared.mean()
