"""A dataset held whole in memory, and its seeded train/val/test split."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from aebench.errors import require, require_int, require_number


@dataclass(frozen=True)
class DatasetArrays:
    """Every sample of a dataset as one tensor, with what evaluations need to know of it."""

    name: str
    x: torch.Tensor                  # (N, *sample_shape): uint8 images (read as value / 255) or float32
    labels: torch.Tensor | None      # int64, (N,), or None for unlabelled data
    unit_range: bool                 # every value in [0, 1]: PSNR, SSIM and BCE are defined
    test_indices: torch.Tensor | None = None  # a published test split (MNIST's, CIFAR's), kept as the test set
    val_indices: torch.Tensor | None = None   # with test_indices: a validation split the dataset fixes itself too
    standardize: bool = False        # scale each feature by the train split's mean and deviation
    rescale: bool = False            # one affine map onto [0, 1] fitted on the train split (its min and max)
    ratings: bool = False            # a user x item rating matrix: rating / 5 where rated, 0 where not

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.x.shape[1:])

    @property
    def is_image(self) -> bool:
        """Images are (channels, height, width); vectors are (features,)."""
        return len(self.sample_shape) == 3


def as_float(values: torch.Tensor) -> torch.Tensor:
    """Stored values as float32 inputs: uint8 is divided by 255, anything else is converted."""
    return values.float().div_(255) if values.dtype == torch.uint8 else values.float()


@dataclass(frozen=True)
class Split:
    """Index sets into :class:`DatasetArrays`, disjoint and covering every sample."""

    train: torch.Tensor
    val: torch.Tensor
    test: torch.Tensor


def seeded_split(n_samples: int, split_seed: int, val_fraction: float, test_fraction: float,
                 test_indices: torch.Tensor | None = None, val_indices: torch.Tensor | None = None) -> Split:
    """A random permutation cut into test, val and train, the same for the same seed.

    With ``test_indices`` (a dataset's published test set) those are the test split, and
    ``val_fraction`` of the others are drawn for validation; ``test_fraction`` is not used.
    With ``val_indices`` as well (a dataset split by region), both are kept and the rest trains."""
    require_int("split_seed", split_seed, minimum=0)
    require_number("val_fraction", val_fraction, 0.0, 1.0, open_minimum=True, open_maximum=True)
    require_number("test_fraction", test_fraction, 0.0, 1.0, open_minimum=True, open_maximum=True)
    require(val_fraction + test_fraction < 1.0, "val_fraction", val_fraction,
            f"val_fraction + test_fraction must leave training data (test_fraction={test_fraction})")
    generator = torch.Generator().manual_seed(split_seed)
    if test_indices is not None and val_indices is not None:
        rest = torch.ones(n_samples, dtype=torch.bool)
        rest[test_indices], rest[val_indices] = False, False
        return Split(test=test_indices.sort().values, val=val_indices.sort().values, train=rest.nonzero().squeeze(1))
    if test_indices is not None:
        rest = torch.ones(n_samples, dtype=torch.bool)
        rest[test_indices] = False
        others = rest.nonzero().squeeze(1)
        others = others[torch.randperm(len(others), generator=generator)]
        n_val = max(1, round(len(others) * val_fraction))
        return Split(test=test_indices.sort().values, val=others[:n_val].sort().values,
                     train=others[n_val:].sort().values)
    order = torch.randperm(n_samples, generator=generator)
    n_test = max(1, round(n_samples * test_fraction))
    n_val = max(1, round(n_samples * val_fraction))
    return Split(test=order[:n_test].sort().values,
                 val=order[n_test:n_test + n_val].sort().values,
                 train=order[n_test + n_val:].sort().values)
