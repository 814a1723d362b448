"""Colour patches cut from the two photographs scikit-learn bundles (``load_sample_images``:
a Chinese temple and a flower, 427x640 each): a colour image dataset that ships with the install."""
from __future__ import annotations

import numpy as np
import torch

from aebench.data.arrays import DatasetArrays
from aebench.data.registry import register_dataset
from aebench.errors import require_int


@register_dataset
def patches(patch_size: int = 16, n_patches: int = 6000, data_seed: int = 0) -> DatasetArrays:
    """``n_patches`` square patches at seeded random positions, half from each photograph, held as
    uint8 (N, 3, patch_size, patch_size); the label says which photograph a patch comes from."""
    from sklearn.datasets import load_sample_images

    photos = load_sample_images().images  # two (427, 640, 3) uint8 arrays
    height, width = photos[0].shape[:2]
    require_int("patch_size", patch_size, minimum=2, maximum=min(height, width))
    require_int("n_patches", n_patches, minimum=10)
    require_int("data_seed", data_seed, minimum=0)
    rng = np.random.default_rng(data_seed)
    which = np.arange(n_patches) % len(photos)
    tops = rng.integers(0, height - patch_size + 1, size=n_patches)
    lefts = rng.integers(0, width - patch_size + 1, size=n_patches)
    cut = np.stack([photos[photo][top:top + patch_size, left:left + patch_size]
                    for photo, top, left in zip(which, tops, lefts)])
    images = torch.from_numpy(np.ascontiguousarray(cut.transpose(0, 3, 1, 2)))  # (N, 3, P, P)
    return DatasetArrays("patches", images, torch.from_numpy(which.astype(np.int64)), unit_range=True)
