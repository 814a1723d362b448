"""Small building blocks shared by the autoencoder variants: tied layers and reconstruction losses."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


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


def reconstruction_loss(name: str, decoder_output: torch.Tensor, target: torch.Tensor,
                        reduction: str = "mean") -> torch.Tensor:
    """The mean over every value, or (``reduction="none"``) the loss of each value."""
    return LOSS_FUNCTIONS[name](decoder_output, target, reduction=reduction)
