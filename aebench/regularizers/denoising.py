"""Denoising (Vincent, Larochelle, Bengio & Manzagol, ICML 2008; Vincent et al., JMLR 2010):
train on a corrupted input x~ ~ q(x~ | x) and reconstruct the clean x.

- ``gaussian``: x~ = x + N(0, noise_std^2), independently per value;
- ``masking``: each value is set to 0 with probability noise_prob (Vincent 2008);
- ``salt_pepper``: each value, with probability noise_prob, is set to 0 or 1 with equal odds
  (Vincent 2010); for data in [0, 1].

A fresh corruption is drawn at every training step, on the batch's own device.
"""
from __future__ import annotations

import torch

from aebench.errors import require_choice, require_number
from aebench.needs import Need
from aebench.regularizers.base import Regularizer, register_regularizer

NOISES = ("gaussian", "masking", "salt_pepper")
SALT_PEPPER_NEEDS_UNIT_RANGE = Need(
    "salt_pepper needs data in [0, 1]", lambda f: f.unit_range, "regularizer.noise", lambda f: "salt_pepper",
    lambda f: f"gaussian or masking: {f.data} is not scaled to [0, 1], so salt-and-pepper values 0 and 1 mean nothing")


@register_regularizer
class Denoising(Regularizer):
    name = "denoising"
    has_penalty = False
    per_member = ("noise_std", "noise_prob")  # members draw their corruptions each with its own (member_draws)

    def __init__(self, noise: str = "masking", noise_std: float = 0.1, noise_prob: float = 0.3):
        self.noise = require_choice("noise", noise, NOISES)
        self.noise_std = require_number("noise_std", noise_std, minimum=0.0)
        self.noise_prob = require_number("noise_prob", noise_prob, minimum=0.0, maximum=1.0, open_maximum=True)

    def needs(self) -> tuple[Need, ...]:
        return (SALT_PEPPER_NEEDS_UNIT_RANGE,) if self.noise == "salt_pepper" else ()

    def corrupt(self, x: torch.Tensor) -> torch.Tensor:
        if self.noise == "gaussian":
            return x + self.noise_std * torch.randn_like(x)
        hit = torch.rand_like(x) < self.noise_prob
        if self.noise == "masking":
            return x.masked_fill(hit, 0.0)
        salt = torch.rand_like(x) < 0.5
        return torch.where(hit, salt.to(x.dtype), x)
