"""Run artifacts: a PNG grid of test images in rows (originals above their reconstructions and, for a
task that transforms the input, the model's input on the top row) and the 2-D map of the test codes."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from aebench.tracking.store import TrackingStore

MIN_TILE_PIXELS = 48  # small images (8x8 digits) are enlarged so they can be seen


def image_grid(rows: Sequence[torch.Tensor], padding: int = 2) -> np.ndarray:
    """uint8 array (height, width[, 3]) of rows of (N, C, H, W) images, clipped to [0, 1]; grey rows
    beside colour ones are shown in grey on three channels."""
    channels = max(row.shape[1] for row in rows)
    stacked = torch.stack([row.detach().float().cpu().clamp(0, 1).expand(-1, channels, -1, -1) for row in rows])
    count_rows, count, _, height, width = stacked.shape
    scale = max(1, -(-MIN_TILE_PIXELS // max(height, width)))
    stacked = stacked.repeat_interleave(scale, dim=3).repeat_interleave(scale, dim=4)
    height, width = height * scale, width * scale
    grid = torch.ones(channels, count_rows * height + (count_rows + 1) * padding, count * width + (count + 1) * padding)
    for row in range(count_rows):
        for column in range(count):
            top, left = padding + row * (height + padding), padding + column * (width + padding)
            grid[:, top:top + height, left:left + width] = stacked[row, column]
    pixels = (grid * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    return pixels[:, :, 0] if channels == 1 else pixels


def save_image_grid(rows: Sequence[torch.Tensor], path: str | Path) -> None:
    Image.fromarray(image_grid(rows)).save(path)


def log_code_map(store: TrackingStore, run_id: str, points: np.ndarray, labels: torch.Tensor | None) -> None:
    """The artifact ``codes_2d.npz``: the test codes on their first two principal components, and labels."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "codes_2d.npz"
        np.savez_compressed(path, points=points.astype(np.float32),
                            labels=np.array([]) if labels is None else labels.numpy())
        store.client.log_artifact(run_id, str(path))
