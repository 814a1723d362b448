"""Data-specific compression: a model trained on one dataset, scored on the test splits of others.

An autoencoder compresses well only data like its training data (the autoencoder lecture's
"data-specific"). With ``metrics.transfer=[mnist,fashion_mnist,kmnist]`` every run (and every PCA
baseline of a sweep) also reconstructs the test split of each listed dataset other than its own
and logs ``transfer/<dataset>/psnr`` (data in [0, 1]) and ``transfer/<dataset>/mse``; the report
renders the train x test matrix (``aebench.report.transfer``). The listed datasets must be shaped
and scaled as the run's own: a model takes only inputs of the shape it was built for.
"""
from __future__ import annotations

from typing import Callable

import torch

from aebench.data import AutoencoderDataModule
from aebench.errors import require
from aebench.evaluate.metrics import mse_per_sample, psnr_per_image

PREFIX = "transfer/"


def check_transfer(name: str, own: str, datamodule: AutoencoderDataModule, other: AutoencoderDataModule) -> None:
    """Refuse dataset ``name`` (loaded as ``other``) unless shaped and scaled as the run's ``datamodule``."""
    require(other.sample_shape == datamodule.sample_shape, "metrics.transfer", name,
            f"datasets whose samples are shaped as dataset={own}'s {datamodule.sample_shape} "
            f"({name}'s are {other.sample_shape})")
    require(other.arrays.unit_range == datamodule.arrays.unit_range, "metrics.transfer", name,
            f"datasets scaled as dataset={own} ({'in' if datamodule.arrays.unit_range else 'not in'} [0, 1])")


def transfer_scores(reconstruct: Callable[[torch.Tensor], torch.Tensor],
                    data: dict[str, AutoencoderDataModule]) -> dict[str, float]:
    """``transfer/<name>/mse`` (and ``/psnr`` for data in [0, 1]) of ``reconstruct`` on each test split."""
    scores = {}
    for name, datamodule in data.items():
        test_x = datamodule.inputs("test")
        output = reconstruct(test_x)
        scores[f"{PREFIX}{name}/mse"] = mse_per_sample(output, test_x).mean().item()
        if datamodule.arrays.unit_range:
            scores[f"{PREFIX}{name}/psnr"] = psnr_per_image(output, test_x).mean().item()
    return scores
