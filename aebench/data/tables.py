"""Small tables that ship with scikit-learn, for the non-image uses (anomalies, imputation,
visualisation). Features are standardised with the train split's mean and deviation."""
from __future__ import annotations

import numpy as np
import torch

from aebench.data.arrays import DatasetArrays
from aebench.data.registry import register_dataset


def _table(name: str, bunch) -> DatasetArrays:
    features = torch.from_numpy(bunch.data.astype(np.float32))
    labels = torch.from_numpy(bunch.target.astype(np.int64))
    return DatasetArrays(name, features, labels, unit_range=False, standardize=True)


@register_dataset
def breast_cancer() -> DatasetArrays:
    """Wisconsin diagnostic breast cancer: 569 samples, 30 features, benign or malignant."""
    from sklearn.datasets import load_breast_cancer

    return _table("breast_cancer", load_breast_cancer())


@register_dataset
def wine() -> DatasetArrays:
    """Wine recognition: 178 samples, 13 chemical features, 3 cultivars."""
    from sklearn.datasets import load_wine

    return _table("wine", load_wine())
