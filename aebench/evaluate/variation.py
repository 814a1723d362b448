"""Feature variation: what each code unit does, and how the code space joins two images.

- Latent traversals (``traversals.png``): one row per code unit, for the ``units`` units whose
  values vary most over the test codes; along a row the unit takes ``steps`` evenly spaced values
  from its 5th to its 95th percentile over the test codes while every other unit stays at its mean
  over them, and each code is decoded (the figure of Higgins et al. 2017, "beta-VAE", and of the
  autoencoder lecture's "feature variation").
- Interpolations (``interpolations.png``): for pairs of test images, the decoded straight line
  between their codes (the first row of a pair) against the straight line between the images
  themselves (the second row): where the code space has learnt the data, the decoded path stays
  on images of the data while the pixel blend superimposes two (Bengio, Mesnil, Dauphin & Rifai
  2013, "Better mixing via deep representations").
"""
from __future__ import annotations

import torch

from aebench.ops.chunks import encode_all

PERCENTILES = (0.05, 0.95)


def _decode(model, codes: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.decode(codes.to(model.device)).float().cpu()


def traversal_units(codes: torch.Tensor, units: int) -> list[int]:
    """The ``units`` code units of largest variance over ``codes``, in that order."""
    return codes.var(dim=0).argsort(descending=True)[:units].tolist()


def traversal_rows(model, codes: torch.Tensor, units: int = 6, steps: int = 9) -> list[torch.Tensor]:
    """One row of ``steps`` decoded images per traversed unit (see the module docstring), from the test
    ``codes`` (``encode_all`` of the test inputs as the encoder takes them, which a run has already)."""
    low, high = torch.quantile(codes, torch.tensor(PERCENTILES), dim=0)
    mean = codes.mean(dim=0)
    rows = []
    for unit in traversal_units(codes, units):
        path = mean.repeat(steps, 1)
        path[:, unit] = torch.linspace(float(low[unit]), float(high[unit]), steps)
        rows.append(_decode(model, path))
    return rows


def interpolation_rows(model, inputs: torch.Tensor, targets: torch.Tensor, pairs: int = 3,
                       steps: int = 9) -> list[torch.Tensor]:
    """For test samples (0, 1), (2, 3), ...: the decoded path between the codes of ``inputs`` (as the
    encoder takes them), then the pixel-space path between ``targets`` (the images themselves)."""
    weights = torch.linspace(0, 1, steps)[:, None]
    rows = []
    for pair in range(min(pairs, len(inputs) // 2)):
        first, second = 2 * pair, 2 * pair + 1
        codes = encode_all(model, inputs[first:second + 1])
        rows.append(_decode(model, (1 - weights) * codes[0] + weights * codes[1]))
        blend = (1 - weights).view(-1, *[1] * (targets.dim() - 1)) * targets[first] + \
            weights.view(-1, *[1] * (targets.dim() - 1)) * targets[second]
        rows.append(blend)
    return rows
