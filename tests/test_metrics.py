"""Test-set metrics against explicit loops over samples and units."""
import math

import numpy as np
import pytest
import torch

from aebench.evaluate.metrics import CodeStatistics, MetricOptions, reconstruction_metrics, ssim_window
from aebench.evaluate.scoring import DENOISE_NOISE_SEED
from aebench.models import create_model


def reference_code_statistics(code, zero_threshold, bounds, margin):
    rows = code.tolist()
    values = [v for row in rows for v in row]
    k = len(rows[0])
    hoyer = []
    for row in rows:
        l1, l2 = sum(abs(v) for v in row), math.sqrt(sum(v * v for v in row))
        hoyer.append((math.sqrt(k) - (l1 / l2 if l2 else 1.0)) / (math.sqrt(k) - 1))
    dead = sum(all(abs(row[j]) < zero_threshold for row in rows) for j in range(k))
    stats = {"code_mean_abs": sum(abs(v) for v in values) / len(values), "code_mean": sum(values) / len(values),
             "code_zero_frac": sum(abs(v) < zero_threshold for v in values) / len(values),
             "code_hoyer": sum(hoyer) / len(hoyer), "dead_units": float(dead)}
    if bounds:
        low, high = bounds
        cut = margin * (high - low)
        stats["saturation"] = sum(v < low + cut or v > high - cut for v in values) / len(values)
    return stats


@pytest.mark.parametrize("activation,bounds", [("sigmoid", (0, 1)), ("tanh", (-1, 1)), ("relu", None)])
def test_code_statistics_match_explicit_loops(activation, bounds):
    torch.manual_seed(0)
    batches = []
    for size in (7, 5, 9):
        code = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}[activation](torch.randn(size, 6) * 3)
        code[:, 2] = 0.001 * code[:, 2]  # a dead unit
        code[0] = 0.0  # an all-zero code
        batches.append(code)
    metric = CodeStatistics(6, activation, zero_threshold=0.01, saturation_margin=0.05)
    for code in batches:
        metric.update(code)
    computed = {k: v.item() for k, v in metric.compute().items()}
    expected = reference_code_statistics(torch.cat(batches).double(), 0.01, bounds, 0.05)
    assert computed.keys() == expected.keys()
    for name, value in expected.items():
        assert computed[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name
    assert computed["dead_units"] >= 1


def test_hoyer_sparsity_extremes():
    metric = CodeStatistics(4, "relu", 0.01, 0.05)
    metric.update(torch.tensor([[0.0, 0.0, 3.0, 0.0], [1.0, 1.0, 1.0, 1.0]]))
    assert metric.compute()["code_hoyer"].item() == pytest.approx(0.5)  # 1 for one-hot, 0 for flat


def test_evaluation_metrics_match_a_direct_computation():
    torch.manual_seed(0)
    model = create_model("deep", input_shape=(1, 8, 8), code_dim=5, hidden_dims=[12],
                         metric_options=MetricOptions(denoise_std=0.1)).eval()
    batches = [torch.rand(10, 1, 8, 8), torch.rand(6, 1, 8, 8)]
    for index, x in enumerate(batches):
        model.evaluation.update(model, x, index)
    results = {k: v.item() for k, v in model.evaluation.compute().items()}

    norms, denoise_psnr, psnr = [], [], []
    for index, x in enumerate(batches):
        generator = torch.Generator().manual_seed(DENOISE_NOISE_SEED + index)
        noisy = x + 0.1 * torch.randn(x.shape, generator=generator)
        with torch.no_grad():
            clean_out, noisy_out = model(x), model(noisy)
        for b in range(x.shape[0]):
            jacobian = torch.autograd.functional.jacobian(lambda v: model.encoder(v.unsqueeze(0)).squeeze(0), x[b])
            norms.append(jacobian.pow(2).sum().sqrt().item())
            psnr.append(10 * math.log10(1 / (clean_out[b] - x[b]).pow(2).mean().item()))
            denoise_psnr.append(10 * math.log10(1 / (noisy_out[b] - x[b]).pow(2).mean().item()))
    assert results["test/jacobian_frobenius"] == pytest.approx(sum(norms) / len(norms), rel=1e-5)
    assert results["test/psnr"] == pytest.approx(sum(psnr) / len(psnr), rel=1e-5)
    assert results["test/denoise_psnr"] == pytest.approx(sum(denoise_psnr) / len(denoise_psnr), rel=1e-5)
    assert results["test/jacobian_projections"] == 0


def test_the_tasks_psnr_is_test_psnr_and_takes_a_mask():
    """The tasks' per-image PSNR (it takes a mask; torchmetrics' does not) gives test/psnr's value
    unmasked, and over a mask the PSNR of the masked values alone."""
    from aebench.evaluate.metrics import psnr_metric
    from aebench.tasks.common import psnr_per_image

    generator = torch.Generator().manual_seed(0)
    clean = torch.rand(20, 1, 8, 8, generator=generator)
    estimate = (clean + 0.1 * torch.randn(clean.shape, generator=generator)).clamp(0, 1)
    metric = psnr_metric((1, 8, 8))
    metric.update(estimate, clean)
    assert psnr_per_image(estimate, clean).mean().item() == pytest.approx(metric.compute().item(), rel=1e-5)
    mask = torch.rand(clean.shape, generator=generator) < 0.3
    for index in range(len(clean)):
        picked = mask[index]
        mse = (estimate[index][picked] - clean[index][picked]).pow(2).mean().item()
        assert psnr_per_image(estimate, clean, mask)[index].item() == pytest.approx(10 * math.log10(1 / mse), rel=1e-5)


def brute_force_ssim(a: np.ndarray, b: np.ndarray, side: int, sigma: float) -> float:
    """SSIM (Wang et al. 2004, data range 1) averaged over every position of a side x side Gaussian
    window that lies inside the image, written out position by position."""
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    offsets = np.arange(side) - side // 2
    weights = np.exp(-offsets ** 2 / (2 * sigma ** 2))
    window = np.outer(weights, weights) / weights.sum() ** 2
    values = []
    for i in range(a.shape[0] - side + 1):
        for j in range(a.shape[1] - side + 1):
            x, y = a[i:i + side, j:j + side], b[i:i + side, j:j + side]
            mx, my = (window * x).sum(), (window * y).sum()
            vx, vy = (window * x * x).sum() - mx ** 2, (window * y * y).sum() - my ** 2
            cov = (window * x * y).sum() - mx * my
            values.append((2 * mx * my + c1) * (2 * cov + c2) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2)))
    return float(np.mean(values))


@pytest.mark.parametrize("size,side", [((8, 8), 7), ((5, 7), 5), ((3, 3), 3), ((16, 16), 11), ((28, 28), 11)])
def test_ssim_uses_a_window_that_fits_the_image(size, side):
    """8 x 8 digits get a 7 x 7 window (sigma 1.5 x 7 / 11), not 11 x 11 over reflected borders; images of
    5 pixels or less are scored instead of failing; 11 x 11 and sigma 1.5 from 11 pixels up."""
    assert ssim_window(size) == (side, pytest.approx(1.5 * side / 11))
    generator = torch.Generator().manual_seed(0)
    target = torch.rand(3, 1, *size, generator=generator, dtype=torch.float64)
    preds = (target + 0.1 * torch.randn(target.shape, generator=generator, dtype=torch.float64)).clamp(0, 1)
    metric = reconstruction_metrics((1, *size), unit_range=True)["ssim"]
    metric.update(preds.float(), target.float())
    expected = np.mean([brute_force_ssim(target[k, 0].numpy(), preds[k, 0].numpy(), *ssim_window(size))
                        for k in range(3)])
    assert metric.compute().item() == pytest.approx(expected, abs=1e-5)
