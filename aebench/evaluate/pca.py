"""PCA, the linear optimum every autoencoder stands beside: the k-component PCA fitted on the
train split, scored on the test split with the same metrics and probes as the autoencoders."""
from __future__ import annotations

import math
import time

import numpy as np
import torch
from sklearn.decomposition import PCA

from aebench.data import AutoencoderDataModule
from aebench.evaluate.metrics import MetricOptions, psnr_metric, reconstruction_metrics
from aebench.evaluate.probes import code_map, probe_accuracies
from aebench.evaluate.scoring import fixed_noise
from aebench.evaluate.transfer import transfer_scores


def pca_baseline(datamodule: AutoencoderDataModule, code_dim: int, options: MetricOptions = MetricOptions(),
                 transfer: dict[str, AutoencoderDataModule] | None = None) -> tuple[dict[str, float], np.ndarray]:
    """(metrics, 2-D map of the test codes). The test noise of ``test/denoise_psnr`` is drawn for the
    datamodule's numbered test batches, exactly as a run with its batch size draws it; ``transfer``:
    other datasets' test splits, scored as a run scores them (``aebench.evaluate.transfer``)."""
    started = time.perf_counter()
    shape = datamodule.sample_shape
    train_x, test_x = datamodule.inputs("train"), datamodule.inputs("test")
    pca = PCA(n_components=code_dim, svd_solver="full").fit(train_x.flatten(1).double().numpy())

    def reconstruct(x: torch.Tensor) -> tuple[np.ndarray, torch.Tensor]:
        codes = pca.transform(x.flatten(1).double().numpy())
        return codes, torch.from_numpy(pca.inverse_transform(codes)).float().view(-1, *shape)

    test_codes, test_reconstruction = reconstruct(test_x)
    unit_range = datamodule.arrays.unit_range
    metrics = {f"test/{name}": value.item()
               for name, value in reconstruction_metrics(shape, unit_range)(test_reconstruction, test_x).items()}
    if unit_range:
        denoise = psnr_metric(shape)
        for index, batch in datamodule.numbered_test_batches():
            denoise.update(reconstruct(batch + options.denoise_std * fixed_noise(batch, index))[1], batch)
        metrics["test/denoise_psnr"] = denoise.compute().item()
    metrics["test/jacobian_frobenius"] = math.sqrt(code_dim)  # orthonormal projection: ||J||_F^2 = k
    metrics["model/num_parameters"] = float(code_dim * math.prod(shape) + math.prod(shape))
    metrics["model/code_dim"] = float(code_dim)
    if datamodule.labels("train") is not None:
        train_codes = pca.transform(train_x.flatten(1).double().numpy())
        metrics.update(probe_accuracies(train_codes, datamodule.labels("train").numpy(), test_codes,
                                        datamodule.labels("test").numpy()))
    metrics.update(transfer_scores(lambda x: reconstruct(x)[1], transfer or {}))
    metrics["train/fit_seconds"] = time.perf_counter() - started
    return metrics, code_map(test_codes)
