"""A known nonlinear manifold: the Swiss roll, lifted into higher dimension.

Points (t cos t, h, t sin t) with t uniform in [1.5 pi, 4.5 pi] and h uniform in [0, 21]
(scikit-learn's ``make_swiss_roll``) lie on a rolled 2-D sheet. A random orthonormal map sends
them into R^dim, noise is added, and one affine map fitted on the train split scales the set onto
[0, 1]. A 2-D code can unroll the sheet; two principal components cannot, so nonlinear autoencoders should beat PCA
at code size 2. The label is the position along the roll in ``n_classes`` equal bins of t.
"""
from __future__ import annotations

import numpy as np
import torch

from aebench.data.arrays import DatasetArrays
from aebench.data.registry import register_dataset
from aebench.errors import require_int, require_number


@register_dataset
def synthetic_manifold(n_samples: int = 2000, dim: int = 32, noise_std: float = 0.05, n_classes: int = 5,
                       data_seed: int = 0) -> DatasetArrays:
    from sklearn.datasets import make_swiss_roll

    require_int("n_samples", n_samples, minimum=10)
    require_int("dim", dim, minimum=3)
    require_number("noise_std", noise_std, minimum=0.0)
    require_int("n_classes", n_classes, minimum=2)
    require_int("data_seed", data_seed, minimum=0)
    rng = np.random.default_rng(data_seed)
    roll, position = make_swiss_roll(n_samples, noise=0.0, random_state=data_seed)
    lift, _ = np.linalg.qr(rng.normal(size=(dim, 3)))  # orthonormal columns: distances are kept
    points = roll @ lift.T + rng.normal(0.0, noise_std * roll.std(), size=(n_samples, dim))
    edges = np.quantile(position, np.linspace(0, 1, n_classes + 1)[1:-1])
    labels = np.digitize(position, edges)
    return DatasetArrays("synthetic_manifold", torch.from_numpy(points.astype(np.float32)),
                         torch.from_numpy(labels.astype(np.int64)), unit_range=True, rescale=True)
