"""Colourisation: grey in, colour out (colour data: patches, cifar10).

The encoder sees the luma Y = 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601) as one channel; the
decoder gives three. ``test/psnr`` is the colourised output against the colour image;
``test/grey_psnr`` is the grey image copied to three channels against it, the baseline.
"""
from __future__ import annotations

import torch

from aebench.tasks.base import Task
from aebench.tasks.common import psnr_per_image

LUMA = (0.299, 0.587, 0.114)


def grey(x: torch.Tensor) -> torch.Tensor:
    weights = torch.tensor(LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * weights).sum(dim=1, keepdim=True)


class Colorize(Task):
    name = "colorize"
    data_needs = ("images", "colour", "unit_range")
    headline = ("test/grey_psnr",)

    def model_input_shape(self, sample_shape):
        return (1, *sample_shape[1:])

    def clean_input(self, x):
        return grey(x)

    def evaluate(self, model, datamodule):
        test_x = datamodule.inputs("test")
        return {"test/grey_psnr": psnr_per_image(grey(test_x).expand_as(test_x), test_x).mean().item()}, {}
