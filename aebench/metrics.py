"""Evaluation metrics, computed with torchmetrics so they sync across processes.

Reconstruction: ``mse`` (mean over every value), ``psnr`` (per image with data range 1,
then the mean over images) and ``ssim`` (images only). PSNR and SSIM need values in [0, 1].
"""
from __future__ import annotations

from torchmetrics import MeanSquaredError, MetricCollection
from torchmetrics.image import PeakSignalNoiseRatio, StructuralSimilarityIndexMeasure


def reconstruction_metrics(sample_shape: tuple[int, ...], unit_range: bool) -> MetricCollection:
    """The metrics of a reconstruction against its input, for samples of ``sample_shape``."""
    metrics = {"mse": MeanSquaredError()}
    if unit_range:
        per_sample = tuple(range(1, len(sample_shape) + 1))
        metrics["psnr"] = PeakSignalNoiseRatio(data_range=1.0, dim=per_sample, reduction="elementwise_mean")
        if len(sample_shape) == 3:
            metrics["ssim"] = StructuralSimilarityIndexMeasure(data_range=1.0)
    return MetricCollection(metrics)
