"""Anomaly detection by reconstruction error.

With labels: class ``holdout_class`` is left out of training and validation; the test set keeps
every class, and the held-out class is the anomaly. Without labels: ``outlier_fraction`` of the
test samples are replaced by outliers (for images, uniform noise; for vectors, each feature
drawn from another test sample, which keeps the marginals and breaks their joint structure).
Each test sample's score is its reconstruction MSE; ``test/anomaly_auroc`` is the area under
the ROC curve of the scores against the anomaly labels (torchmetrics).
"""
from __future__ import annotations

import torch
from torchmetrics.functional.classification import binary_auroc

from aebench.errors import ConfigError, require_int, require_number
from aebench.ops.chunks import apply_in_chunks, device_of
from aebench.tasks.base import Task
from aebench.tasks.common import mse_per_sample

OUTLIER_SEED = 99


class Anomaly(Task):
    name = "anomaly"
    primary_metrics = ("test/anomaly_auroc",)
    headline = ("test/anomaly_auroc",)

    def __init__(self, holdout_class: int = 0, outlier_fraction: float = 0.1):
        self.holdout_class = require_int("holdout_class", holdout_class, minimum=0)
        self.outlier_fraction = require_number("outlier_fraction", outlier_fraction, 0.0, 1.0, open_minimum=True,
                                               open_maximum=True)

    def prepare(self, datamodule):
        labels = datamodule.arrays.labels
        if labels is None:
            return datamodule
        classes = sorted(set(labels.tolist()))
        if self.holdout_class not in classes:
            raise ConfigError("task.holdout_class", self.holdout_class,
                              f"one of the classes of dataset={datamodule.arrays.name}: {classes}")
        return datamodule.without_class(self.holdout_class)

    def evaluate(self, model, datamodule):
        test_x, labels = datamodule.inputs("test"), datamodule.labels("test")
        if labels is not None:
            anomalous = labels == self.holdout_class
        else:
            test_x, anomalous = self.with_outliers(test_x, datamodule.arrays.is_image)
        reconstructed = apply_in_chunks(model, test_x, device=device_of(model))
        scores = mse_per_sample(reconstructed, test_x)
        return {"test/anomaly_auroc": binary_auroc(scores, anomalous.long()).item()}, {}

    def with_outliers(self, x: torch.Tensor, images: bool) -> tuple[torch.Tensor, torch.Tensor]:
        generator = torch.Generator().manual_seed(OUTLIER_SEED)
        count = max(1, round(self.outlier_fraction * len(x)))
        chosen = torch.randperm(len(x), generator=generator)[:count]
        outliers = torch.rand((count, *x.shape[1:]), generator=generator) if images else torch.stack(
            [x[torch.randint(0, len(x), (count,), generator=generator), feature] for feature in range(x.shape[1])], 1)
        x = x.clone()
        x[chosen] = outliers.to(x.dtype)
        anomalous = torch.zeros(len(x), dtype=torch.bool)
        anomalous[chosen] = True
        return x, anomalous
