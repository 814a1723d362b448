"""Small building blocks shared by the autoencoder variants: tied layers, default widths and
reconstruction losses."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from aebench.errors import require_widths

AUTO = "auto"


WIDEST = (1000, 500)  # Hinton & Salakhutdinov (2006), 784-1000-500-250-30 on MNIST: the first layers wider than their input


def hidden_widths(hidden_dims: Sequence[int] | str, input_size: int, code_dim: int) -> list[int]:
    """``hidden_dims``, or for ``auto`` two widths sized from the input: twice the input size, then
    the input size, at most 1000 and 500 (Hinton & Salakhutdinov 2006) and never narrower than the
    code. 64 inputs give 128 and 64; 784 inputs give 1000 and 500. Narrower layers starve the code:
    on digits the widths 48 and 32 left ``deep`` and ``stacked`` below PCA at the same code size
    (BENCHMARKS.md, "Models sized for the data")."""
    if not isinstance(hidden_dims, str) or hidden_dims != AUTO:
        return require_widths("hidden_dims", hidden_dims)
    return [max(code_dim, min(factor * input_size, widest)) for factor, widest in zip((2, 1), WIDEST)]


class TiedLinear(nn.Module):
    """A decoder layer whose weight is the transpose of an encoder layer's (tied weights), with its own bias."""

    def __init__(self, encoder_layer: nn.Linear):
        super().__init__()
        self.encoder_layer = encoder_layer  # shared module: its weight is trained through both uses
        self.bias = nn.Parameter(torch.zeros(encoder_layer.in_features))

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        return F.linear(code, self.encoder_layer.weight.t(), self.bias)


# by name: each loss's own kernel, mean or per value (``reduction``); for ``bce`` the decoder output is
# a logit (stable under mixed precision)
LOSS_FUNCTIONS = {"mse": F.mse_loss, "l1": F.l1_loss, "bce": F.binary_cross_entropy_with_logits}
RECONSTRUCTION_LOSSES = tuple(LOSS_FUNCTIONS)


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The mean of ``values`` where ``mask`` is true (0 where it is nowhere true)."""
    weights = mask.to(values.dtype)
    return (values * weights).sum() / weights.sum().clamp_min(1)


def reconstruction_loss(name: str, decoder_output: torch.Tensor, target: torch.Tensor,
                        reduction: str = "mean") -> torch.Tensor:
    """The mean over every value, or (``reduction="none"``) the loss of each value."""
    return LOSS_FUNCTIONS[name](decoder_output, target, reduction=reduction)
