"""Orthogonality penalty on the encoder's weights (the soft orthogonality of Bansal, Chen & Wang,
"Can we gain more from orthogonality regularizations in training deep CNNs?", NeurIPS 2018):

    weight * sum_l ||W_l W_l^T - I||_F^2,

W_l each weight of the encoder as a matrix (out, in) (a kernel flattened to (out, in * k * k)). It pushes
each layer's rows towards an orthonormal set, so the encoder keeps distances and spreads its code
over decorrelated directions. The worked example of adding a regularizer (CONTRIBUTING.md).
"""
from __future__ import annotations

import torch

from aebench.errors import require_number
from aebench.regularizers.base import Regularizer, register_regularizer


@register_regularizer
class Orthogonal(Regularizer):
    weight_scales_penalty = True  # weight * (a term without it)
    name = "orthogonal"

    def __init__(self, weight: float = 1e-3):
        self.weight = require_number("weight", weight, minimum=0.0)

    def penalty(self, model, inputs, code) -> torch.Tensor:
        total = code.new_zeros(())
        for parameter in model.encoder.parameters():
            if parameter.ndim >= 2:
                matrix = parameter.flatten(1)
                gram = matrix @ matrix.T
                total = total + (gram - torch.eye(gram.shape[0], device=gram.device)).pow(2).sum()
        return self.weight * total
