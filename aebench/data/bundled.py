"""Datasets that ship with the install: scikit-learn's digits and a seeded synthetic low-rank set."""
from __future__ import annotations

import numpy as np
import torch

from aebench.data.arrays import DatasetArrays
from aebench.data.registry import register_dataset
from aebench.errors import require, require_int, require_number


@register_dataset
def digits() -> DatasetArrays:
    """The 1,797 8x8 handwritten digits bundled with scikit-learn (UCI optdigits test set).

    Pixels are integers 0..16; dividing by 16 maps them onto [0, 1].
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.from_numpy(bunch.images.astype(np.float32) / 16.0).unsqueeze(1)  # (N, 1, 8, 8)
    return DatasetArrays("digits", images, torch.from_numpy(bunch.target.astype(np.int64)), unit_range=True)


@register_dataset
def synthetic_lowrank(n_samples: int = 2000, dim: int = 64, rank: int = 8, noise_std: float = 0.02,
                      data_seed: int = 0) -> DatasetArrays:
    """Points z A + mu + noise on a random rank-``rank`` affine subspace of R^dim.

    z ~ N(0, I_rank) and A has N(0, 1/rank) entries, so each coordinate of the signal has
    unit variance; the noise is N(0, noise_std^2) per coordinate. One affine map, fitted on the
    train split (``DatasetArrays.rescale``), scales the set onto [0, 1]; it keeps it on a rank-``rank`` affine subspace
    (up to the noise), so PCA with ``rank`` components is the optimal linear code.
    """
    require_int("n_samples", n_samples, minimum=10)
    require_int("dim", dim, minimum=2)
    require_int("rank", rank, minimum=1, maximum=dim)
    require_number("noise_std", noise_std, minimum=0.0)
    require_int("data_seed", data_seed, minimum=0)
    require(rank <= dim, "rank", rank, f"at most dim={dim}")
    rng = np.random.default_rng(data_seed)
    basis = rng.normal(0.0, 1.0 / np.sqrt(rank), size=(rank, dim))
    offset = rng.normal(0.0, 1.0, size=dim)
    latent = rng.normal(size=(n_samples, rank))
    points = latent @ basis + offset + rng.normal(0.0, noise_std, size=(n_samples, dim))
    return DatasetArrays("synthetic_lowrank", torch.from_numpy(points.astype(np.float32)), None, unit_range=True,
                         rescale=True)
