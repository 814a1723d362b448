"""Inpainting (imputation): fill in missing values, images or tables.

Missing values are set to 0 in the input (the mean, for standardised tables); the model is
trained on fresh random masks of ``missing`` of the values and scored on the missing values
only, under a fixed random mask and, for images, a fixed square block of ``block`` of the side
(for vectors, a run of ``block`` of the features). Mean imputation (each value's train-split
mean) is the baseline. Data in [0, 1] is scored by PSNR (``test/inpaint_psnr``,
``test/inpaint_block_psnr``, ``test/inpaint_mean_psnr``, ``test/inpaint_block_mean_psnr``),
other data by MSE (the same names with ``mse``).
"""
from __future__ import annotations

import math

import torch

from aebench.errors import require_number
from aebench.ops.chunks import apply_in_chunks, device_of
from aebench.tasks.base import Task, seeded
from aebench.tasks.common import mse_per_sample, psnr_per_image


class Inpaint(Task):
    name = "inpaint"
    primary_metrics = ("test/inpaint_psnr", "test/inpaint_mse")
    headline = ("test/inpaint_",)

    def __init__(self, missing: float = 0.3, block: float = 0.5):
        self.missing = require_number("missing", missing, 0.0, 1.0, open_minimum=True, open_maximum=True)
        self.block = require_number("block", block, 0.0, 1.0, open_minimum=True, open_maximum=True)

    def random_mask(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """True where a value is missing."""
        return torch.rand(x.shape, generator=generator, device=x.device) < self.missing

    def block_mask(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        mask = torch.zeros(x.shape, dtype=torch.bool, device=x.device)
        if x.dim() == 4:
            height, width = x.shape[2:]
            side_h, side_w = max(1, round(self.block * height)), max(1, round(self.block * width))
            tops = torch.randint(0, height - side_h + 1, (x.shape[0],), generator=generator, device=x.device)
            lefts = torch.randint(0, width - side_w + 1, (x.shape[0],), generator=generator, device=x.device)
            for index, (top, left) in enumerate(zip(tops.tolist(), lefts.tolist())):
                mask[index, :, top:top + side_h, left:left + side_w] = True
        else:
            length = max(1, math.ceil(self.block * x.shape[1]))
            starts = torch.randint(0, x.shape[1] - length + 1, (x.shape[0],), generator=generator, device=x.device)
            for index, start in enumerate(starts.tolist()):
                mask[index, start:start + length] = True
        return mask

    def training_input(self, x):
        return x.masked_fill(self.random_mask(x), 0.0)

    def test_input(self, x, batch_index):
        return x.masked_fill(self.random_mask(x, seeded(x, batch_index)), 0.0)

    def test_masks(self, test_x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The fixed masks the test split is scored under: ``""`` random values, ``"block_"`` a block."""
        generator = seeded(test_x, 0)
        return {"": self.random_mask(test_x, generator), "block_": self.block_mask(test_x, generator)}

    def evaluate(self, model, datamodule):
        test_x, mean = datamodule.inputs("test"), datamodule.inputs("train").mean(0, keepdim=True)
        unit = datamodule.arrays.unit_range
        score = psnr_per_image if unit else mse_per_sample
        kind = "psnr" if unit else "mse"
        metrics = {}
        for label, mask in self.test_masks(test_x).items():
            filled = apply_in_chunks(model, test_x.masked_fill(mask, 0.0), device=device_of(model))
            metrics[f"test/inpaint_{label}{kind}"] = score(filled, test_x, mask).mean().item()
            baseline = torch.where(mask, mean.expand_as(test_x), test_x)
            metrics[f"test/inpaint_{label}mean_{kind}"] = score(baseline, test_x, mask).mean().item()
        return metrics, {}
