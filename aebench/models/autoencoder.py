"""The one LightningModule behind every variant: encoder -> code -> decoder.

Variants differ only in the encoder and decoder they build (see ``mlp.py`` and ``conv.py``);
training, validation and test steps, the loss and the optimiser live here once.
"""
from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch import nn
from torchmetrics import MeanMetric

from aebench.errors import require, require_choice, require_number
from aebench.metrics import reconstruction_metrics
from aebench.models.layers import RECONSTRUCTION_LOSSES, reconstruction_loss


class Autoencoder(L.LightningModule):
    """An autoencoder trained to reconstruct its input.

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
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, *, architecture: dict[str, Any],
                 input_shape: tuple[int, ...], code_dim: int, code_activation: str,
                 loss: str = "mse", lr: float = 1e-3, unit_range: bool = True):
        super().__init__()
        require_choice("loss", loss, RECONSTRUCTION_LOSSES)
        require(loss != "bce" or unit_range, "loss", loss, "mse or l1: bce needs inputs in [0, 1]")
        self.lr = require_number("lr", lr, minimum=0.0, open_minimum=True)
        self.encoder, self.decoder = encoder, decoder
        self.architecture = dict(architecture)
        self.input_shape, self.code_dim = tuple(input_shape), code_dim
        self.code_activation, self.loss_name = code_activation, loss
        self.train_loss, self.val_loss, self.test_loss = MeanMetric(), MeanMetric(), MeanMetric()
        self.test_metrics = reconstruction_metrics(self.input_shape, unit_range).clone(prefix="test/")

    @property
    def variant(self) -> str:
        return self.architecture["name"]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        """The reconstruction in input space (the sigmoid of the logits for ``bce``)."""
        output = self.decoder(code)
        return torch.sigmoid(output) if self.loss_name == "bce" else output

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def _reconstruction_loss(self, x: torch.Tensor) -> torch.Tensor:
        return reconstruction_loss(self.loss_name, self.decoder(self.encoder(x)), x)

    def training_step(self, x: torch.Tensor, batch_idx: int) -> torch.Tensor:
        loss = self._reconstruction_loss(x)
        self.train_loss.update(loss.detach(), weight=x.shape[0])
        self.log("train/loss", self.train_loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, x: torch.Tensor, batch_idx: int) -> None:
        self.val_loss.update(self._reconstruction_loss(x), weight=x.shape[0])
        self.log("val/loss", self.val_loss, on_step=False, on_epoch=True)

    def test_step(self, x: torch.Tensor, batch_idx: int) -> None:
        output = self.decoder(self.encoder(x))
        self.test_loss.update(reconstruction_loss(self.loss_name, output, x), weight=x.shape[0])
        reconstruction = torch.sigmoid(output) if self.loss_name == "bce" else output
        self.test_metrics.update(reconstruction.float(), x)
        self.log("test/loss", self.test_loss, on_step=False, on_epoch=True)
        self.log_dict(self.test_metrics, on_step=False, on_epoch=True)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.lr)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
