"""Small building blocks shared by the autoencoder variants: tied layers, default widths and
reconstruction losses."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from aebench.errors import require_widths

AUTO = "auto"


def hidden_widths(hidden_dims: Sequence[int] | str, input_size: int, code_dim: int) -> list[int]:
    """``hidden_dims``, or for ``auto`` two widths evenly spaced between the input size and the
    code size, so the default model grows with its data: 64 inputs and a 16-unit code give 48 and
    32 (the widths aebench used on digits), 784 inputs give 528 and 272."""
    if not isinstance(hidden_dims, str) or hidden_dims != AUTO:
        return require_widths("hidden_dims", hidden_dims)
    step = (input_size - code_dim) / 3
    return [max(1, round(input_size - step * layer)) for layer in (1, 2)]


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
