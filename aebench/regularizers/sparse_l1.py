"""L1 sparsity on the code: lambda * mean_b ||h_b||_1 (the sparse autoencoder of the Keras blog,
after Olshausen & Field 1996): it pushes most code activations to zero for each input."""
from __future__ import annotations

import torch

from aebench.errors import require_number
from aebench.regularizers.base import Regularizer, register_regularizer


@register_regularizer
class SparseL1(Regularizer):
    weight_scales_penalty = True  # weight * (a term without it)
    name = "sparse_l1"

    def __init__(self, weight: float = 1e-3):
        self.weight = require_number("weight", weight, minimum=0.0)

    def penalty(self, model, inputs, code) -> torch.Tensor:
        return self.weight * code.abs().sum(dim=1).mean()
