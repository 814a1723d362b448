"""A dataset held whole in memory, and its seeded train/val/test split."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from aebench.errors import require, require_int, require_number


@dataclass(frozen=True)
class DatasetArrays:
    """Every sample of a dataset as one tensor, with what evaluations need to know of it."""

    name: str
    x: torch.Tensor                  # float32, (N, *sample_shape)
    labels: torch.Tensor | None      # int64, (N,), or None for unlabelled data
    unit_range: bool                 # every value in [0, 1]: PSNR, SSIM and BCE are defined

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape[1:])

    @property
    def is_image(self) -> bool:
        """Images are (channels, height, width); vectors are (features,)."""
        return len(self.sample_shape) == 3


@dataclass(frozen=True)
class Split:
    """Index sets into :class:`DatasetArrays`, disjoint and covering every sample."""

    train: torch.Tensor
    val: torch.Tensor
    test: torch.Tensor


def seeded_split(n_samples: int, split_seed: int, val_fraction: float, test_fraction: float) -> Split:
    """A random permutation cut into test, val and train, the same for the same seed."""
    require_int("split_seed", split_seed, minimum=0)
    require_number("val_fraction", val_fraction, 0.0, 1.0, open_minimum=True, open_maximum=True)
    require_number("test_fraction", test_fraction, 0.0, 1.0, open_minimum=True, open_maximum=True)
    require(val_fraction + test_fraction < 1.0, "val_fraction", val_fraction,
            f"val_fraction + test_fraction must leave training data (test_fraction={test_fraction})")
    generator = torch.Generator().manual_seed(split_seed)
    order = torch.randperm(n_samples, generator=generator)
    n_test = max(1, round(n_samples * test_fraction))
    n_val = max(1, round(n_samples * val_fraction))
    return Split(test=order[:n_test].sort().values,
                 val=order[n_test:n_test + n_val].sort().values,
                 train=order[n_test + n_val:].sort().values)
