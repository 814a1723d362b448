"""Penalties of K stacked seeds at once, for the batched products of ``aebench.fast.seed_batched``.

Each regularizer the batched path supports has its penalty written here for stacked tensors:
``inputs`` (K, B, ...), ``code`` (K, B, C) and the model's weight matrices by parameter name, each
(K, ...); the result is (K,), seed k's penalty as its own model's ``penalty`` gives it (tested in
``tests/test_fast_seeds.py``). A regularizer missing here, or one whose penalty needs input
gradients, trains its seeds through ``vmap`` instead; a new regularizer needs nothing here.
"""
from __future__ import annotations

from typing import Callable

import torch

from aebench.ops.jacobian import closed_form_penalty
from aebench.regularizers import L2, Contractive, Regularizer, SparseKL, SparseL1
from aebench.regularizers.sparse_kl import kl_sparsity

SeedPenalty = Callable[[Regularizer, dict[str, torch.Tensor], torch.Tensor, torch.Tensor], torch.Tensor]


def _l2(regularizer: L2, weights, inputs, code) -> torch.Tensor:
    return 0.5 * regularizer.weight * sum(w.pow(2).flatten(1).sum(dim=1) for w in weights.values())


def _sparse_l1(regularizer: SparseL1, weights, inputs, code) -> torch.Tensor:
    return regularizer.weight * code.abs().sum(dim=-1).mean(dim=-1)


def _sparse_kl(regularizer: SparseKL, weights, inputs, code) -> torch.Tensor:
    target = regularizer.target  # a number, or each member's own (K,) (aebench.fast.member_settings)
    return regularizer.weight * kl_sparsity(code.float(), target.view(-1, 1) if torch.is_tensor(target) else target)


def _contractive(regularizer: Contractive, weights, inputs, code) -> torch.Tensor:
    """The closed form of a one-layer encoder: code (K, B, C), the encoder matrix (K, C, inputs)."""
    weight_name, activation = regularizer.closed_form
    return closed_form_penalty(weights[weight_name], activation, code, regularizer.weight)


SEED_PENALTIES: dict[type, SeedPenalty] = {L2: _l2, SparseL1: _sparse_l1, SparseKL: _sparse_kl,
                                           Contractive: _contractive}


def seed_penalty(regularizer: Regularizer) -> SeedPenalty | None:
    """The batched penalty of ``regularizer`` (bound to its model), or None where there is none."""
    if isinstance(regularizer, Contractive) and regularizer.closed_form is None:
        return None  # the other routes differentiate the encoder itself
    return SEED_PENALTIES.get(type(regularizer))
