"""Helpers the tasks share: whole-split encoding and decoding, and per-image PSNR."""
from __future__ import annotations

import torch

CHUNK = 2048


@torch.no_grad()
def run_in_chunks(function, *tensors: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``function(*chunks)`` over the tensors in chunks on ``device``, concatenated on the CPU."""
    outputs = []
    for start in range(0, tensors[0].shape[0], CHUNK):
        outputs.append(function(*(t[start:start + CHUNK].to(device) for t in tensors)).float().cpu())
    return torch.cat(outputs)


def model_device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def psnr_per_image(estimate: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """10 log10(1 / MSE) for each image (data range 1), over the values where ``mask`` is true if given."""
    squared = (estimate.float() - target.float()).pow(2).flatten(1)
    if mask is None:
        mse = squared.mean(1)
    else:
        weights = mask.flatten(1).float()
        mse = (squared * weights).sum(1) / weights.sum(1).clamp_min(1)
    return 10 * torch.log10(1 / mse.clamp_min(1e-12))


def mse_per_sample(estimate: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    squared = (estimate.float() - target.float()).pow(2).flatten(1)
    if mask is None:
        return squared.mean(1)
    weights = mask.flatten(1).float()
    return (squared * weights).sum(1) / weights.sum(1).clamp_min(1)
