"""Super-resolution ("generating higher resolution images"): the encoder sees the image reduced by
``factor`` and enlarged back to its size; the decoder must give the original.

Reduction by ``downsample``: ``box`` (each pixel the mean of a factor x factor block) or ``bicubic``;
enlargement: bicubic. Both are Pillow's ``Image.resize`` filters (Keys' cubic with a = -0.5,
antialiased when reducing), computed by ``torch.nn.functional.interpolate(..., antialias=True)``,
which implements them (tests/test_tasks.py checks the two agree), then clipped to [0, 1] as an
8-bit image would be. ``test/psnr`` and ``test/ssim`` score the model's output against the original;
``test/bicubic_psnr`` and ``test/bicubic_ssim`` score the enlarged input itself, the baseline every
method must beat, and ``test/superres_gain`` is the PSNR the model adds to it.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from aebench.errors import require_choice, require_int
from aebench.evaluate.metrics import WindowedSSIM
from aebench.needs import Need
from aebench.ops.chunks import apply_in_chunks, device_of
from aebench.tasks.base import Task
from aebench.tasks.common import psnr_per_image

FACTORS = (2, 4)
DOWNSAMPLING = ("box", "bicubic")


def divides_sides(factor: int) -> Need:
    return Need("superres reduces by a whole factor", lambda f: all(side % factor == 0 for side in f.sample_shape[1:]),
                "task.factor", lambda f: factor,
                lambda f: f"a factor dividing the image sides of {f.data} (samples shaped {f.sample_shape})")


class SuperResolution(Task):
    name = "superres"
    data_needs = ("images", "unit_range")
    headline = ("test/bicubic_psnr", "test/superres_gain")

    def __init__(self, factor: int = 2, downsample: str = "box"):
        self.factor = require_choice("factor", require_int("factor", factor), FACTORS)
        self.downsample = require_choice("downsample", downsample, DOWNSAMPLING)

    def needs(self) -> tuple[Need, ...]:
        return (*super().needs(), divides_sides(self.factor))

    def low_resolution(self, x: torch.Tensor) -> torch.Tensor:
        """The image reduced by ``factor``."""
        size = (x.shape[-2] // self.factor, x.shape[-1] // self.factor)
        if self.downsample == "box":
            return F.avg_pool2d(x, self.factor)
        return F.interpolate(x, size=size, mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)

    def enlarged(self, low: torch.Tensor) -> torch.Tensor:
        """Bicubic enlargement by ``factor``, clipped to [0, 1]: the baseline, and what the encoder sees."""
        size = (low.shape[-2] * self.factor, low.shape[-1] * self.factor)
        return F.interpolate(low, size=size, mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)

    def clean_input(self, x: torch.Tensor) -> torch.Tensor:
        return self.enlarged(self.low_resolution(x))

    def evaluate(self, model, datamodule):
        test_x = datamodule.inputs("test")
        baseline = self.clean_input(test_x)
        output = apply_in_chunks(model, baseline, device=device_of(model))
        bicubic_psnr = psnr_per_image(baseline, test_x).mean().item()
        metrics = {"test/bicubic_psnr": bicubic_psnr,
                   "test/superres_gain": psnr_per_image(output, test_x).mean().item() - bicubic_psnr}
        if min(test_x.shape[-2:]) >= 3:  # as test/ssim
            ssim = WindowedSSIM(tuple(test_x.shape[-2:]))
            ssim.update(baseline, test_x)
            metrics["test/bicubic_ssim"] = ssim.compute().item()
        return metrics, {}
