"""Denoising: trained on corrupted inputs (Vincent et al. 2008, 2010), scored on how much PSNR it
wins back over the noisy input at several noise levels.

``test/psnr`` is the denoised output against the clean input at the training noise; and for
each level l in ``levels`` (a standard deviation for gaussian noise, a fraction for masking and
salt-and-pepper), ``test/denoise_gain_<l>`` = PSNR(output, clean) - PSNR(noisy input, clean), on
the same fixed noise for every model.
"""
from __future__ import annotations

from typing import Sequence

import torch

from aebench.errors import require, require_number
from aebench.needs import Need
from aebench.ops.chunks import apply_in_chunks, device_of
from aebench.regularizers.denoising import Denoising
from aebench.tasks.base import Task, seeded
from aebench.tasks.common import psnr_per_image

CORRUPTS_ONCE = Need("denoise corrupts the input once", lambda f: not f.corrupting_regularizers, "regularizer",
                     lambda f: f.regularizer, lambda f: "a regularizer without denoising: task=denoise corrupts the "
                     "input already (set its noise with task.noise)")


def fixed_corruption(noise: str, level: float, x: torch.Tensor, index: int) -> torch.Tensor:
    generator = seeded(x, index)
    if noise == "gaussian":
        return x + level * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    hit = torch.rand(x.shape, generator=generator, device=x.device) < level
    if noise == "masking":
        return x.masked_fill(hit, 0.0)
    salt = torch.rand(x.shape, generator=generator, device=x.device) < 0.5
    return torch.where(hit, salt.to(x.dtype), x)


class Denoise(Task):
    name = "denoise"
    data_needs = ("unit_range",)
    headline = ("test/denoise_gain_",)

    def needs(self) -> tuple[Need, ...]:
        return (*super().needs(), CORRUPTS_ONCE)

    def __init__(self, noise: str = "gaussian", noise_std: float = 0.2, noise_prob: float = 0.3,
                 levels: Sequence[float] = (0.1, 0.2, 0.3, 0.5)):
        self.corruption = Denoising(noise, noise_std, noise_prob)
        self.levels = [require_number("levels", level, minimum=0.0) for level in levels]
        require(len(self.levels) >= 1, "levels", list(levels), "one or more noise levels")
        if noise != "gaussian":
            for level in self.levels:
                require_number("levels", level, 0.0, 1.0, open_maximum=True)

    @property
    def level(self) -> float:
        return self.corruption.noise_std if self.corruption.noise == "gaussian" else self.corruption.noise_prob

    def training_input(self, x):
        return self.corruption.corrupt(x)

    def test_input(self, x, batch_index):
        return fixed_corruption(self.corruption.noise, self.level, x, batch_index)

    def evaluate(self, model, datamodule):
        test_x = datamodule.inputs("test")
        device = device_of(model)
        metrics = {}
        for level in self.levels:
            noisy = torch.cat([fixed_corruption(self.corruption.noise, level, batch, index)
                               for index, batch in datamodule.numbered_test_batches()])
            denoised = apply_in_chunks(model, noisy, device=device)
            gain = psnr_per_image(denoised, test_x) - psnr_per_image(noisy.clamp(0, 1), test_x)
            metrics[f"test/denoise_gain_{level:g}"] = gain.mean().item()
        return metrics, {}
