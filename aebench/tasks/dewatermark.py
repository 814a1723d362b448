"""Watermark removal: a synthetic watermark on the input, the clean image as the target.

Watermarks are drawn with Pillow at a random position and opacity (0.3 to 0.7), white or black:
the word "aebench" on images at least 24 pixels wide, otherwise a small logo (a ring, a cross
or a bar). A bank of 256 is drawn once per image size with a fixed seed; training picks one
at random for each image and step, the test a fixed one. ``test/psnr`` is the output against
the clean image; ``test/watermarked_psnr`` the watermarked input against it, the baseline.
"""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from aebench.tasks.base import Task, seeded
from aebench.tasks.common import psnr_per_image

BANK, BANK_SEED = 256, 7


def watermark_bank(height: int, width: int, count: int = BANK, seed: int = BANK_SEED) -> torch.Tensor:
    """(count, 2, H, W): the watermark's alpha (shape x opacity) and its value (0 or 1) per pixel."""
    rng = np.random.default_rng(seed)
    font = ImageFont.load_default()
    bank = np.zeros((count, 2, height, width), dtype=np.float32)
    for index in range(count):
        layer = Image.new("L", (width, height), 0)
        draw = ImageDraw.Draw(layer)
        if width >= 24:
            x, y = int(rng.integers(-width // 4, width // 2)), int(rng.integers(0, max(1, height - 8)))
            draw.text((x, y), "aebench", fill=255, font=font)
        else:
            size = max(2, min(height, width) // 2)
            x, y = int(rng.integers(0, width - size + 1)), int(rng.integers(0, height - size + 1))
            shape = index % 3
            if shape == 0:
                draw.ellipse((x, y, x + size - 1, y + size - 1), outline=255)
            elif shape == 1:
                draw.line((x, y, x + size - 1, y + size - 1), fill=255)
                draw.line((x, y + size - 1, x + size - 1, y), fill=255)
            else:
                draw.rectangle((x, y, x + size - 1, y + max(1, size // 3)), fill=255)
        bank[index, 0] = np.asarray(layer, dtype=np.float32) / 255 * rng.uniform(0.3, 0.7)
        bank[index, 1] = float(rng.integers(0, 2))
    return torch.from_numpy(bank)


class Dewatermark(Task):
    name = "dewatermark"
    data_needs = ("images", "unit_range")
    headline = ("test/watermarked_psnr",)

    def __init__(self):
        self._banks: dict[tuple, torch.Tensor] = {}

    def bank(self, x: torch.Tensor) -> torch.Tensor:
        key = (x.shape[-2], x.shape[-1], str(x.device))
        if key not in self._banks:
            self._banks[key] = watermark_bank(x.shape[-2], x.shape[-1]).to(x.device)
        return self._banks[key]

    def apply(self, x: torch.Tensor, choice: torch.Tensor) -> torch.Tensor:
        marks = self.bank(x)[choice]  # (B, 2, H, W)
        alpha, value = marks[:, :1].to(x.dtype), marks[:, 1:].to(x.dtype)
        return x * (1 - alpha) + value * alpha

    def training_input(self, x):
        return self.apply(x, torch.randint(0, BANK, (x.shape[0],), device=x.device))

    def test_input(self, x, batch_index):
        return self.apply(x, torch.randint(0, BANK, (x.shape[0],), generator=seeded(x, batch_index), device=x.device))

    def evaluate(self, model, datamodule):
        test_x = datamodule.inputs("test")
        # the test step's batches and numbers: the same watermarks
        marked = torch.cat([self.test_input(batch, index) for index, batch in datamodule.numbered_test_batches()])
        return {"test/watermarked_psnr": psnr_per_image(marked, test_x).mean().item()}, {}
