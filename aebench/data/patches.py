"""Colour patches cut from the two photographs scikit-learn bundles (``load_sample_images``:
a Chinese temple and a flower, 427x640 each): a colour image dataset that ships with the install.

The split is by region, so that no pixel of a test patch is ever seen in training: each
photograph is cut into vertical strips, the left 70 % of its columns for training, the next
10 % for validation and the last 20 % for testing (``REGIONS``), and every patch lies inside
one strip. Random crops split at random share pixels across the splits: most test patches
overlap a training patch.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from aebench.data.arrays import DatasetArrays
from aebench.data.registry import register_dataset
from aebench.errors import require_int

# (split, share of each photograph's columns), left to right
REGIONS = (("train", 0.7), ("val", 0.1), ("test", 0.2))


class PatchPositions(NamedTuple):
    photo: np.ndarray   # which photograph, (N,)
    top: np.ndarray     # row of the patch's top-left pixel, (N,)
    left: np.ndarray    # column of the patch's top-left pixel, (N,)
    split: np.ndarray   # "train", "val" or "test", (N,)


def patch_positions(height: int, width: int, photos: int, patch_size: int, n_patches: int,
                    data_seed: int) -> PatchPositions:
    """Seeded positions of ``n_patches`` patches, alternating between the photographs, each region
    getting its share of the patches and every patch inside its region's columns."""
    rng = np.random.default_rng(data_seed)
    bounds = np.round(np.cumsum([0.0] + [share for _, share in REGIONS]) * width).astype(int)
    counts = [round(n_patches * share) for _, share in REGIONS]
    counts[0] += n_patches - sum(counts)
    photo, top, left, split = [], [], [], []
    for (name, _), count, start, stop in zip(REGIONS, counts, bounds[:-1], bounds[1:]):
        require_int("patch_size", patch_size, minimum=2, maximum=min(height, stop - start))
        photo.append(np.arange(count) % photos)
        top.append(rng.integers(0, height - patch_size + 1, size=count))
        left.append(rng.integers(start, stop - patch_size + 1, size=count))
        split.append(np.full(count, name))
    return PatchPositions(*(np.concatenate(parts) for parts in (photo, top, left, split)))


@register_dataset
def patches(patch_size: int = 16, n_patches: int = 6000, data_seed: int = 0) -> DatasetArrays:
    """``n_patches`` square patches at seeded random positions, half from each photograph, held as
    uint8 (N, 3, patch_size, patch_size); the label says which photograph a patch comes from. The
    split is the regions' (``dataset.split_seed`` and the fractions do not apply)."""
    from sklearn.datasets import load_sample_images

    photos = load_sample_images().images  # two (427, 640, 3) uint8 arrays
    height, width = photos[0].shape[:2]
    require_int("patch_size", patch_size, minimum=2, maximum=min(height, width))
    require_int("n_patches", n_patches, minimum=10)
    require_int("data_seed", data_seed, minimum=0)
    where = patch_positions(height, width, len(photos), patch_size, n_patches, data_seed)
    cut = np.stack([photos[photo][top:top + patch_size, left:left + patch_size]
                    for photo, top, left in zip(where.photo, where.top, where.left)])
    images = torch.from_numpy(np.ascontiguousarray(cut.transpose(0, 3, 1, 2)))  # (N, 3, P, P)
    return DatasetArrays("patches", images, torch.from_numpy(where.photo.astype(np.int64)), unit_range=True,
                         test_indices=torch.from_numpy(np.flatnonzero(where.split == "test")),
                         val_indices=torch.from_numpy(np.flatnonzero(where.split == "val")))
