"""L2 weight decay: (lambda / 2) * ||theta||^2 over the weight matrices and kernels (biases excluded).

Written as an explicit penalty, not the optimiser's ``weight_decay``, so its value is logged
beside the others and behaves identically under every optimiser (Krogh & Hertz 1992).
"""
from __future__ import annotations

import torch

from aebench.errors import require_number
from aebench.regularizers.base import Regularizer, register_regularizer


@register_regularizer
class L2(Regularizer):
    weight_scales_penalty = True  # weight * (a term without it)
    name = "l2"

    def __init__(self, weight: float = 1e-4):
        self.weight = require_number("weight", weight, minimum=0.0)

    def penalty(self, model, inputs, code) -> torch.Tensor:
        weights = [p for p in model.parameters() if p.ndim >= 2]  # tied matrices count once
        return 0.5 * self.weight * sum(p.pow(2).sum() for p in weights)
