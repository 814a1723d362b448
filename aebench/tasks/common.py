"""Scores the tasks share: per-image PSNR and per-sample MSE, over a mask of values if given
(torchmetrics' PSNR, which ``test/psnr`` uses, has no mask; tests/test_metrics.py checks the two agree)."""
from __future__ import annotations

import torch


def mse_per_sample(estimate: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """The mean squared error of each sample, over the values where ``mask`` is true if given."""
    squared = (estimate.float() - target.float()).pow(2).flatten(1)
    if mask is None:
        return squared.mean(1)
    weights = mask.flatten(1).float()
    return (squared * weights).sum(1) / weights.sum(1).clamp_min(1)


def psnr_per_image(estimate: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """10 log10(1 / MSE) for each image (data range 1), over the values where ``mask`` is true if given."""
    return 10 * torch.log10(1 / mse_per_sample(estimate, target, mask).clamp_min(1e-12))
