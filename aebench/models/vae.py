"""Variational autoencoder (Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014).

The encoder gives a Gaussian posterior q(z | x) = N(mu(x), diag(sigma^2(x))); the decoder
reconstructs from a draw z = mu + sigma * eps, eps ~ N(0, I) (the reparameterisation trick), and the
bottleneck adds its KL divergence to the prior N(0, I),

    KL = 1/2 sum_j (mu_j^2 + sigma_j^2 - log sigma_j^2 - 1)   per sample,

as the term ``kl`` = kl_weight * mean_b KL / D, D the values of one sample: the reconstruction loss is a
mean over values, so kl_weight=1 weighs the two as the ELBO of a Gaussian decoder with variance 1/2
does (up to constants); kl_weight != 1 is the beta-VAE (Higgins et al. 2017). The code every metric
reads is the posterior mean mu(x); ``train/kl`` and ``test/kl`` log the term.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from aebench.errors import require_int, require_number, require_widths
from aebench.models.autoencoder import Autoencoder
from aebench.models.bottleneck import Bottleneck, Latent
from aebench.models.registry import register_model
from aebench.ops.activations import make_activation, require_activation


class VariationalBottleneck(Bottleneck):
    term_names = ("kl",)
    draws_at_random = True  # the reparameterised sample

    def __init__(self, width: int, code_dim: int, kl_weight: float, values_per_sample: int):
        super().__init__()
        self.mean, self.log_variance = nn.Linear(width, code_dim), nn.Linear(width, code_dim)
        self.scale = kl_weight / values_per_sample

    @property
    def code_layer(self) -> nn.Module:
        return self.mean

    def forward(self, features: torch.Tensor) -> Latent:
        mean, log_variance = self.mean(features), self.log_variance(features)
        sample = mean + torch.exp(0.5 * log_variance) * torch.randn_like(mean)
        kl = 0.5 * (mean.pow(2) + log_variance.exp() - log_variance - 1).sum(dim=1).mean()
        return Latent(mean, sample, {"kl": self.scale * kl})


@register_model
def vae(input_shape: Sequence[int], code_dim: int = 16, hidden_dims: Sequence[int] = (48,),
        activation: str = "relu", kl_weight: float = 1.0, **training) -> Autoencoder:
    """Hidden layers of ``hidden_dims`` to a Gaussian posterior over a ``code_dim`` code, and mirrored back."""
    require_int("code_dim", code_dim, minimum=1)
    hidden_dims = require_widths("hidden_dims", hidden_dims)
    require_activation("activation", activation)
    require_number("kl_weight", kl_weight, minimum=0.0)
    input_shape = tuple(input_shape)
    output_shape = tuple(training.get("output_shape") or input_shape)
    encoder_widths = [math.prod(input_shape), *hidden_dims]
    decoder_widths = [code_dim, *reversed(hidden_dims)]
    encoder = [nn.Flatten()]
    for width_in, width_out in zip(encoder_widths, encoder_widths[1:]):
        encoder += [nn.Linear(width_in, width_out), make_activation(activation)]
    decoder = []
    for width_in, width_out in zip(decoder_widths, decoder_widths[1:]):
        decoder += [nn.Linear(width_in, width_out), make_activation(activation)]
    decoder += [nn.Linear(decoder_widths[-1], math.prod(output_shape)), nn.Unflatten(1, output_shape)]
    bottleneck = VariationalBottleneck(hidden_dims[-1], code_dim, kl_weight, math.prod(output_shape))
    architecture = {"name": "vae", "input_shape": list(input_shape), "code_dim": code_dim,
                    "hidden_dims": list(hidden_dims), "activation": activation, "kl_weight": kl_weight}
    return Autoencoder(nn.Sequential(*encoder), nn.Sequential(*decoder), architecture=architecture,
                       input_shape=input_shape, code_dim=code_dim, code_activation="identity",
                       bottleneck=bottleneck, **training)
