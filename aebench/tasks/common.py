"""Scores the tasks share: per-image PSNR and per-sample MSE over a mask of values (defined with the
other metrics in ``aebench.evaluate.metrics``, which the transfer scores use too)."""
from aebench.evaluate.metrics import mse_per_sample, psnr_per_image

__all__ = ["mse_per_sample", "psnr_per_image"]
