"""Test-time metrics, all torchmetrics so they sync across processes.

Reconstruction: ``mse`` (mean over every value), ``psnr`` (per image with data range 1, then
the mean over images) and ``ssim`` (images only: Wang, Bovik, Sheikh & Simoncelli 2004, a Gaussian
window of 11 x 11 pixels and sigma 1.5, or the largest odd window that fits a smaller image with
sigma scaled alike, averaged over the positions where the window lies inside the image); PSNR
and SSIM need values in [0, 1].
Code statistics: see :class:`CodeStatistics`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torchmetrics import MeanSquaredError, Metric, MetricCollection
from torchmetrics.functional.image import structural_similarity_index_measure
from torchmetrics.image import PeakSignalNoiseRatio

# activations whose outputs saturate, with their bounds
SATURATING_RANGES = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}


@dataclass(frozen=True)
class MetricOptions:
    zero_threshold: float = 1e-2        # |h| below this counts as zero (code_zero_frac, dead_units)
    denoise_std: float = 0.1            # gaussian noise of test/denoise_psnr
    saturation_margin: float = 0.05     # within this fraction of the range from a bound is saturated
    jacobian_projections: int | None = None  # None: exact ||J||_F; P: estimated from P projections
    transfer: tuple[str, ...] = ()      # other datasets whose test splits the model is scored on (evaluate.transfer)


def per_sample_dims(sample_shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(range(1, len(sample_shape) + 1))


def psnr_metric(sample_shape: tuple[int, ...]) -> PeakSignalNoiseRatio:
    return PeakSignalNoiseRatio(data_range=1.0, dim=per_sample_dims(sample_shape), reduction="elementwise_mean")


SSIM_WINDOW, SSIM_SIGMA = 11, 1.5  # Wang et al. 2004


def ssim_window(image_size: tuple[int, int]) -> tuple[int, float]:
    """(window side, Gaussian sigma) for images of ``image_size``: 11 and 1.5, or the largest odd side
    that fits the smaller dimension, with sigma scaled alike (8 x 8 digits: 7 and 0.95)."""
    fits = min(SSIM_WINDOW, min(image_size))
    side = fits if fits % 2 else fits - 1
    return side, SSIM_SIGMA * side / SSIM_WINDOW


def reconstruction_metrics(sample_shape: tuple[int, ...], unit_range: bool) -> MetricCollection:
    """The metrics of a reconstruction against its input, for samples of ``sample_shape``."""
    metrics = {"mse": MeanSquaredError()}
    if unit_range:
        metrics["psnr"] = psnr_metric(sample_shape)
        if len(sample_shape) == 3 and min(sample_shape[1:]) >= 3:
            metrics["ssim"] = WindowedSSIM(sample_shape[1:])
    return MetricCollection(metrics)


class WindowedSSIM(Metric):
    """Mean SSIM over images, each the mean over the window positions that lie inside the image (as
    scikit-image computes it): torchmetrics' SSIM map of the reflect-padded image, cropped to them.
    The window fits the image (:func:`ssim_window`), so images smaller than 11 pixels are scored too."""

    def __init__(self, image_size: tuple[int, int]):
        super().__init__()
        self.side, self.sigma = ssim_window(tuple(image_size))
        self.add_state("total", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        _, full = structural_similarity_index_measure(preds, target, sigma=self.sigma, kernel_size=self.side,
                                                      data_range=1.0, reduction="none", return_full_image=True)
        pad = (self.side - 1) // 2  # the kernel torchmetrics builds from sigma has this side (tested)
        inside = full[..., pad:full.shape[-2] - pad, pad:full.shape[-1] - pad] if pad else full
        self.total += inside.flatten(1).mean(dim=1).double().sum()
        self.count += preds.shape[0]

    def compute(self) -> torch.Tensor:
        return (self.total / self.count).float()


def hoyer_sparsity(code: torch.Tensor) -> torch.Tensor:
    """Per sample (sqrt(K) - ||h||_1 / ||h||_2) / (sqrt(K) - 1): 0 when all |h_j| are equal, 1 when
    one unit carries everything (Hoyer 2004). An all-zero code counts as 1."""
    k = code.shape[1]
    l1, l2 = code.abs().sum(dim=1), code.pow(2).sum(dim=1).sqrt()
    ratio = torch.where(l2 > 0, l1 / l2.clamp_min(torch.finfo(l2.dtype).tiny), torch.ones_like(l1))
    return (math.sqrt(k) - ratio) / (math.sqrt(k) - 1)


class CodeStatistics(Metric):
    """How sparse, alive and saturated the codes h (B, K) of a test set are.

    ``code_mean_abs`` mean |h|; ``code_mean`` mean h; ``code_zero_frac`` the fraction with
    |h| < zero_threshold; ``code_hoyer`` the mean Hoyer sparsity; ``dead_units`` the units with
    |h| < zero_threshold on every test input; ``saturation`` (sigmoid and tanh codes) the
    fraction within ``saturation_margin`` of the range from a bound (Rifai et al. 2011's SAT).
    """

    full_state_update = False

    def __init__(self, code_dim: int, code_activation: str, zero_threshold: float, saturation_margin: float):
        super().__init__()
        self.zero_threshold = zero_threshold
        self.bounds = SATURATING_RANGES.get(code_activation)
        self.saturation_margin = saturation_margin
        for name in ("abs_sum", "value_sum", "values", "zeros", "hoyer_sum", "samples", "saturated"):
            self.add_state(name, torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("max_abs", torch.zeros(code_dim, dtype=torch.float64), dist_reduce_fx="max")

    def update(self, code: torch.Tensor) -> None:
        code = code.detach().double()
        magnitude = code.abs()
        self.abs_sum += magnitude.sum()
        self.value_sum += code.sum()
        self.values += code.numel()
        self.zeros += (magnitude < self.zero_threshold).sum()
        self.samples += code.shape[0]
        if code.shape[1] > 1:
            self.hoyer_sum += hoyer_sparsity(code).sum()
        self.max_abs = torch.maximum(self.max_abs, magnitude.max(dim=0).values)
        if self.bounds is not None:
            low, high = self.bounds
            margin = self.saturation_margin * (high - low)
            self.saturated += ((code < low + margin) | (code > high - margin)).sum()

    def compute(self) -> dict[str, torch.Tensor]:
        stats = {"code_mean_abs": self.abs_sum / self.values, "code_mean": self.value_sum / self.values,
                 "code_zero_frac": self.zeros / self.values,
                 "dead_units": (self.max_abs < self.zero_threshold).sum().double()}
        if self.max_abs.numel() > 1:
            stats["code_hoyer"] = self.hoyer_sum / self.samples
        if self.bounds is not None:
            stats["saturation"] = self.saturated / self.values
        return stats


# per-sample scores with an optional mask (torchmetrics' PSNR, which test/psnr uses, has no mask;
# tests/test_metrics.py checks the two agree)
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
