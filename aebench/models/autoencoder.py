"""The one LightningModule behind every variant: encoder -> code -> decoder, plus regularizers.

Variants differ only in the encoder and decoder they build (``mlp.py``, ``conv.py``,
``stacked.py``); training, validation and test steps, the loss and the optimiser live here once.
"""
from __future__ import annotations

from typing import Any, Sequence

import lightning as L
import torch
from torch import nn

from aebench.errors import TrainingDiverged, require, require_choice, require_number
from aebench.evaluation import TestEvaluation
from aebench.metrics import MetricOptions
from aebench.models.layers import RECONSTRUCTION_LOSSES, reconstruction_loss
from aebench.regularizers import Regularizer

# keyword arguments of Autoencoder that every builder passes through unchanged
TRAINING_OPTIONS = ("loss", "lr", "unit_range", "regularizers", "metric_options")


class EpochMeans(nn.Module):
    """Sample-weighted means of per-step scalars, summed on the device and read once an epoch.

    Logging from every step costs more than a small model's whole step and syncs the host with
    the device; one tensor add per step does neither. Sums are reduced across processes before
    dividing, so the mean is exact under data parallelism.
    """

    def __init__(self, names: Sequence[str]):
        super().__init__()
        self.names = list(names)
        self.register_buffer("sums", torch.zeros(len(self.names) + 1, dtype=torch.float64), persistent=False)

    def update(self, values: Sequence[torch.Tensor], weight: int) -> None:
        stacked = torch.stack([v.detach().double() for v in values] + [self.sums.new_ones(())])
        self.sums += stacked * weight

    def compute_and_reset(self, strategy) -> dict[str, torch.Tensor]:
        sums = strategy.reduce(self.sums.clone(), reduce_op="sum")
        self.sums.zero_()
        if sums[-1] == 0:
            return {}
        return {name: (total / sums[-1]).float() for name, total in zip(self.names, sums[:-1])}


class Autoencoder(L.LightningModule):
    """An autoencoder trained to reconstruct its (clean) input.

    Args:
        encoder: maps a batch shaped ``(B, *input_shape)`` to codes ``(B, code_dim)``; its last
            module is the code activation.
        decoder: maps codes back to ``(B, *input_shape)`` (logits when ``loss="bce"``).
        architecture: the registry name and keyword arguments that rebuild this model.
        input_shape: one sample's shape, ``(features,)`` or ``(channels, height, width)``.
        code_activation: name of the code layer's activation (regularizers and metrics use it).
        loss: ``mse``, ``l1`` or ``bce`` (binary cross-entropy on logits; inputs in [0, 1]).
        lr: Adam's learning rate.
        unit_range: inputs lie in [0, 1], so PSNR and SSIM are reported.
        regularizers: corruptions and penalties applied in training (``aebench.regularizers``).
        metric_options: settings of the test metrics.
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, *, architecture: dict[str, Any],
                 input_shape: tuple[int, ...], code_dim: int, code_activation: str,
                 loss: str = "mse", lr: float = 1e-3, unit_range: bool = True,
                 regularizers: Sequence[Regularizer] = (), metric_options: MetricOptions = MetricOptions()):
        super().__init__()
        require_choice("loss", loss, RECONSTRUCTION_LOSSES)
        require(loss != "bce" or unit_range, "loss", loss, "mse or l1: bce needs inputs in [0, 1]")
        self.lr = require_number("lr", lr, minimum=0.0, open_minimum=True)
        self.encoder, self.decoder = encoder, decoder
        self.architecture = dict(architecture)
        self.input_shape, self.code_dim = tuple(input_shape), code_dim
        self.code_activation, self.loss_name, self.unit_range = code_activation, loss, unit_range
        self.regularizers = list(regularizers)
        for regularizer in self.regularizers:
            regularizer.bind(self)
        penalties = [f"train/penalty/{r.name}" for r in self.regularizers if r.has_penalty]
        self.train_means = EpochMeans(["train/loss", *penalties])
        self.val_means = EpochMeans(["val/loss"])
        self.evaluation = TestEvaluation(encoder, self.input_shape, code_dim, code_activation, unit_range,
                                         metric_options)

    @property
    def variant(self) -> str:
        return self.architecture["name"]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def to_reconstruction(self, decoder_output: torch.Tensor) -> torch.Tensor:
        """Decoder output to input space: the sigmoid of the logits for ``bce``, else unchanged."""
        return torch.sigmoid(decoder_output) if self.loss_name == "bce" else decoder_output

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        return self.to_reconstruction(self.decoder(code))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def reconstruction_loss(self, decoder_output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return reconstruction_loss(self.loss_name, decoder_output, target)

    def training_step(self, x: torch.Tensor, batch_idx: int) -> torch.Tensor:
        inputs = x
        for regularizer in self.regularizers:
            inputs = regularizer.corrupt(inputs)
        if any(r.needs_input_grad for r in self.regularizers):
            inputs = inputs.detach().requires_grad_(True)
        code = self.encoder(inputs)
        terms = [self.reconstruction_loss(self.decoder(code), x)]  # against the clean input, always
        for regularizer in self.regularizers:
            penalty = regularizer.penalty(self, inputs, code)
            if penalty is not None:
                terms.append(penalty)
        self.train_means.update(terms, weight=x.shape[0])
        return sum(terms)

    def on_train_epoch_end(self) -> None:
        means = self.train_means.compute_and_reset(self.trainer.strategy)
        self.log_dict(means, sync_dist=True)  # equal on every rank already: the mean leaves it as it is
        loss = means.get("train/loss")
        if loss is not None and not torch.isfinite(loss):  # checked once an epoch: no per-step sync
            raise TrainingDiverged(f"train/loss became {loss.item()} in epoch {self.current_epoch}")

    def validation_step(self, x: torch.Tensor, batch_idx: int) -> None:
        self.val_means.update([self.reconstruction_loss(self.decoder(self.encoder(x)), x)], weight=x.shape[0])

    def on_validation_epoch_end(self) -> None:
        self.log_dict(self.val_means.compute_and_reset(self.trainer.strategy), sync_dist=True)

    def test_step(self, x: torch.Tensor, batch_idx: int) -> None:
        self.evaluation.update(self, x, batch_idx)

    def on_test_epoch_end(self) -> None:
        self.log_dict(self.evaluation.compute(), sync_dist=True)  # torchmetrics synced them already
        self.evaluation.reset()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.lr)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
