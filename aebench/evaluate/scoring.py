"""Everything measured on the test set, for every run whatever its regularizer.

``test/loss``, ``test/mse``, ``test/psnr``, ``test/ssim``; the code statistics of
:class:`~aebench.evaluate.metrics.CodeStatistics`; ``test/jacobian_frobenius``, the mean over test inputs
of ||J_f(x)||_F (exact unless ``jacobian_projections`` is set; ``test/jacobian_projections``
says which, 0 meaning exact); ``test/denoise_psnr``, the PSNR against the clean input of the
reconstruction of the input plus fixed gaussian noise (the same noise for every model).
"""
from __future__ import annotations

import torch
from torch import nn
from torchmetrics import MeanMetric

from aebench.evaluate.metrics import CodeStatistics, MetricOptions, psnr_metric, reconstruction_metrics
from aebench.ops.jacobian import EncoderJacobian

DENOISE_NOISE_SEED = 20110628  # fixed: every model sees the same noisy test inputs


def seeded_generator(x: torch.Tensor, seed: int) -> torch.Generator:
    """A generator on ``x``'s device seeded with ``seed``: fixed test-time randomness, the same in every run."""
    return torch.Generator(device=x.device).manual_seed(seed)


def fixed_noise(x: torch.Tensor, batch_idx: int) -> torch.Tensor:
    """N(0, 1) noise shaped like test batch ``batch_idx``, the same for every model and run."""
    generator = seeded_generator(x, DENOISE_NOISE_SEED + batch_idx)
    return torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)


class TestEvaluation(nn.Module):
    __test__ = False  # not a pytest class

    def __init__(self, code_encoder: nn.Module, input_shape: tuple[int, ...], code_dim: int, code_activation: str,
                 unit_range: bool, options: MetricOptions, bottleneck_terms: tuple[str, ...] = ()):
        super().__init__()
        self.options = options
        self._jacobian = EncoderJacobian(code_encoder)
        self.loss = MeanMetric()
        self.bottleneck_terms = nn.ModuleDict({name: MeanMetric() for name in bottleneck_terms})  # test/kl, ...
        self.reconstruction = reconstruction_metrics(input_shape, unit_range)
        self.denoise_psnr = psnr_metric(input_shape) if unit_range else None
        self.jacobian = MeanMetric()
        self.code = CodeStatistics(code_dim, code_activation, options.zero_threshold, options.saturation_margin)
        self.reconstructed = False  # the reconstruction metrics were updated (not for a task scoring some values)

    def update(self, model: nn.Module, x: torch.Tensor, batch_idx: int) -> None:
        """``x`` is the clean test batch (the target); the encoder sees the task's input for it."""
        task_input = model.task.test_input(x, batch_idx)
        with torch.enable_grad():
            needs_grad = self._jacobian.needs_input_grad()
            inputs = task_input.detach().requires_grad_(needs_grad)
            latent = model.encode(inputs)
            squared = self._jacobian.sq_norm(inputs, latent.code, self.options.jacobian_projections)
        self.jacobian.update(squared.detach().float().clamp_min(0).sqrt())
        for name, value in latent.terms.items():
            self.bottleneck_terms[name].update(value.detach(), weight=x.shape[0])
        code = latent.code.detach()
        output = model.decoder(code)
        self.loss.update(model.reconstruction_loss(output, x, model.task.scoring_mask(task_input, x)), weight=x.shape[0])
        if not model.task.masks_loss:  # a task scoring some values only (ratings) has its own metrics
            self.reconstruction.update(model.to_reconstruction(output).float(), x)
            self.reconstructed = True
        self.code.update(code)
        if self.denoise_psnr is not None and not model.task.masks_loss:
            noisy = task_input + self.options.denoise_std * fixed_noise(task_input, batch_idx)
            self.denoise_psnr.update(model(noisy).float(), x)

    def compute(self) -> dict[str, torch.Tensor]:
        reconstruction = self.reconstruction.compute() if self.reconstructed else {}
        results = {"loss": self.loss.compute(), **reconstruction, **self.code.compute(),
                   "jacobian_frobenius": self.jacobian.compute(),
                   "jacobian_projections": torch.tensor(float(self.options.jacobian_projections or 0)),
                   **{name: metric.compute() for name, metric in self.bottleneck_terms.items()}}
        if self.denoise_psnr is not None and self.reconstructed:
            results["denoise_psnr"] = self.denoise_psnr.compute()
        return {f"test/{name}": value.float() for name, value in results.items()}

    def reset(self) -> None:
        self.reconstructed = False
        for metric in (self.loss, self.reconstruction, self.jacobian, self.code, self.denoise_psnr,
                       *self.bottleneck_terms.values()):
            if metric is not None:
                metric.reset()
