"""KL sparsity (Ng, "Sparse autoencoder", CS294A lecture notes, 2011):

    beta * sum_j KL(rho || rho_hat_j),   KL(rho || q) = rho log(rho / q) + (1 - rho) log((1 - rho) / (1 - q)),

with rho_hat_j the mean activation of code unit j over the batch. It keeps each unit active
for a fraction rho of the inputs, so it needs activations in (0, 1): a sigmoid code layer.
Any other code activation is refused (every variant but ``linear`` can set one).
"""
from __future__ import annotations

import torch

from aebench.errors import require_number
from aebench.needs import Need
from aebench.regularizers.base import Regularizer, register_regularizer

UNIT_INTERVAL_ACTIVATIONS = ("sigmoid",)
CODES_IN_UNIT_INTERVAL = Need(
    "sparse_kl needs codes in (0, 1)", lambda f: f.code_activation in UNIT_INTERVAL_ACTIVATIONS, "regularizer",
    lambda f: f.regularizer, lambda f: "regularizer=sparse_kl needs code activations in (0, 1), a sigmoid code "
                                       f"layer; the code activation of model={f.model} is {f.code_activation}")
EPSILON = 1e-6  # keeps log finite when a unit's batch mean reaches 0 or 1


def kl_sparsity(code: torch.Tensor, target: float | torch.Tensor) -> torch.Tensor:
    """sum_j KL(target || mean_b code[..., b, j]): a number for codes (B, C), one per member for (K, B, C),
    whose ``target`` may be each member's own, (K, 1)."""
    rho_hat = code.mean(dim=-2).clamp(EPSILON, 1 - EPSILON)
    rho = target
    return (rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))).sum(dim=-1)


@register_regularizer
class SparseKL(Regularizer):
    weight_scales_penalty = True  # weight * (a term without it)
    per_member = ("target",)  # kl_sparsity broadcasts a (members, 1) target over the stacked codes
    name = "sparse_kl"

    def __init__(self, target: float = 0.05, weight: float = 0.1):
        self.target = require_number("target", target, minimum=0.0, maximum=1.0, open_minimum=True, open_maximum=True)
        self.weight = require_number("weight", weight, minimum=0.0)

    def needs(self) -> tuple[Need, ...]:
        return (CODES_IN_UNIT_INTERVAL,)

    def penalty(self, model, inputs, code) -> torch.Tensor:
        return self.weight * kl_sparsity(code.float(), self.target)
