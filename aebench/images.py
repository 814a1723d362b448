"""A PNG grid of test images: originals on the top row, their reconstructions below."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

MIN_TILE_PIXELS = 48  # small images (8x8 digits) are enlarged so they can be seen


def reconstruction_grid(originals: torch.Tensor, reconstructions: torch.Tensor, padding: int = 2) -> np.ndarray:
    """uint8 array (rows, cols[, 3]) of two rows of (C, H, W) images, clipped to [0, 1]."""
    pairs = torch.stack([originals, reconstructions]).detach().float().cpu().clamp(0, 1)  # (2, N, C, H, W)
    _, count, channels, height, width = pairs.shape
    scale = max(1, -(-MIN_TILE_PIXELS // max(height, width)))
    pairs = pairs.repeat_interleave(scale, dim=3).repeat_interleave(scale, dim=4)
    height, width = height * scale, width * scale
    grid = torch.ones(channels, 2 * height + 3 * padding, count * width + (count + 1) * padding)
    for row in range(2):
        for column in range(count):
            top, left = padding + row * (height + padding), padding + column * (width + padding)
            grid[:, top:top + height, left:left + width] = pairs[row, column]
    pixels = (grid * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    return pixels[:, :, 0] if channels == 1 else pixels


def save_reconstruction_grid(originals: torch.Tensor, reconstructions: torch.Tensor, path: str | Path) -> None:
    Image.fromarray(reconstruction_grid(originals, reconstructions)).save(path)
