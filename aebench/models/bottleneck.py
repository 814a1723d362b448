"""The latent seam: what lies between the encoder's output and the decoder's input.

Every consumer of codes (test metrics, probes, Jacobians, tasks, PCA comparisons) goes through
``Autoencoder.encode(x)``, which returns a :class:`Latent`: the code, the sample the decoder is
trained on, and the bottleneck's own loss terms. A deterministic autoencoder's bottleneck is the
identity; a variational or quantised one is a small class here (after ae_bakeoff's bottlenecks),
not a change in every evaluator.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn


class Latent(NamedTuple):
    code: torch.Tensor                 # the deterministic code (B, code_dim): what every consumer reads
    sample: torch.Tensor               # what the decoder reconstructs from in training (the code, or a draw)
    terms: dict[str, torch.Tensor]     # the bottleneck's own loss terms (KL, ...), each a scalar, by name


class Bottleneck(nn.Module):
    """Features from the encoder -> :class:`Latent`. ``term_names`` lists the loss terms it adds, in order;
    ``code_layer`` maps features to the code deterministically (what a Jacobian differentiates)."""

    term_names: tuple[str, ...] = ()
    draws_at_random = False  # it samples in training (a run's draws depend on how it is trained)

    @property
    def code_layer(self) -> nn.Module:
        raise NotImplementedError

    def forward(self, features: torch.Tensor) -> Latent:
        raise NotImplementedError


class IdentityBottleneck(Bottleneck):
    """The encoder's output is the code, and the decoder reconstructs from it: no terms."""

    @property
    def code_layer(self) -> nn.Module:
        return nn.Identity()

    def forward(self, features: torch.Tensor) -> Latent:
        return Latent(features, features, {})
