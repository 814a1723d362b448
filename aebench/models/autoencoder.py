"""The one LightningModule behind every variant: encoder -> code -> decoder, plus regularizers.

Variants differ only in the encoder and decoder they build (``mlp.py``, ``conv.py``,
``stacked.py``); training, validation and test steps, the loss and the optimiser live here once.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import torch
from torch import nn

from aebench.data.batches import numbered_batches
from aebench.epoch_means import EpochMeans, read_together
from aebench.errors import TrainingDiverged, require, require_choice, require_number
from aebench.evaluation import TestEvaluation
from aebench.metrics import MetricOptions
from aebench.models.layers import RECONSTRUCTION_LOSSES, reconstruction_loss
from aebench.models.manual import ManualStepModule
from aebench.regularizers import Regularizer
from aebench.tasks.base import Reconstruct, Task

# keyword arguments of Autoencoder that every builder passes through unchanged
TRAINING_OPTIONS = ("loss", "lr", "unit_range", "regularizers", "metric_options", "output_shape", "task")


def as_group(batches: list[torch.Tensor] | torch.Tensor) -> list[torch.Tensor]:
    return [batches] if isinstance(batches, torch.Tensor) else batches


class Autoencoder(ManualStepModule):
    """An autoencoder trained to reconstruct its (clean) input.

    Args:
        encoder: maps a batch shaped ``(B, *input_shape)`` to codes ``(B, code_dim)``; its last
            module is the code activation.
        decoder: maps codes back to ``(B, *input_shape)`` (logits when ``loss="bce"``).
        architecture: the registry name and keyword arguments that rebuild this model.
        input_shape: one sample's shape, ``(features,)`` or ``(channels, height, width)``.
        output_shape: the decoder's, when it differs (colourising grey inputs); else the input's.
        code_activation: name of the code layer's activation (regularizers and metrics use it).
        loss: ``mse``, ``l1`` or ``bce`` (binary cross-entropy on logits; inputs in [0, 1]).
        lr: Adam's learning rate.
        unit_range: inputs lie in [0, 1], so PSNR and SSIM are reported.
        regularizers: corruptions and penalties applied in training (``aebench.regularizers``).
        metric_options: settings of the test metrics.
        task: what the model learns to produce from what (``aebench.tasks``; default: reconstruct its input).
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, *, architecture: dict[str, Any],
                 input_shape: tuple[int, ...], code_dim: int, code_activation: str,
                 loss: str = "mse", lr: float = 1e-3, unit_range: bool = True,
                 regularizers: Sequence[Regularizer] = (), metric_options: MetricOptions = MetricOptions(),
                 output_shape: Sequence[int] | None = None, task: Task | None = None):
        super().__init__()
        require_choice("loss", loss, RECONSTRUCTION_LOSSES)
        require(loss != "bce" or unit_range, "loss", loss, "mse or l1: bce needs inputs in [0, 1]")
        self.lr = require_number("lr", lr, minimum=0.0, open_minimum=True)
        self.encoder, self.decoder = encoder, decoder
        self.architecture = dict(architecture)
        self.input_shape, self.code_dim = tuple(input_shape), code_dim
        self.output_shape = tuple(output_shape) if output_shape else self.input_shape
        if self.output_shape != self.input_shape:  # part of what rebuilds the model
            self.architecture["output_shape"] = list(self.output_shape)
        self.task = task or Reconstruct()
        self.code_activation, self.loss_name, self.unit_range = code_activation, loss, unit_range
        self.regularizers = list(regularizers)
        for regularizer in self.regularizers:
            regularizer.bind(self)
        self._needs_input_grad = any(r.needs_input_grad for r in self.regularizers)
        self._test_batches = 0
        penalties = [f"train/penalty/{r.name}" for r in self.regularizers if r.has_penalty]  # as loss_terms orders them
        self.train_means = EpochMeans(["train/loss", *penalties])
        self.val_means = EpochMeans(["val/loss"])
        self.evaluation = TestEvaluation(encoder, self.output_shape, code_dim, code_activation, unit_range,
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

    def validation_loss(self, inputs: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The loss of reconstructing ``x`` from the task's fixed input for it (``x`` itself by default)."""
        return self.reconstruction_loss(self.decoder(self.encoder(inputs)), x)

    def loss_terms(self, x: torch.Tensor) -> list[torch.Tensor]:
        """[reconstruction loss against the clean x, then each penalty], on the task's (and the
        regularizers') corrupted input."""
        inputs = self.task.training_input(x)
        for regularizer in self.regularizers:
            inputs = regularizer.corrupt(inputs)
        if self._needs_input_grad:
            inputs = inputs.detach().requires_grad_(True)
        code = self.encoder(inputs)
        terms = [self.reconstruction_loss(self.decoder(code), x)]
        for regularizer in self.regularizers:
            penalty = regularizer.penalty(self, inputs, code)
            if penalty is not None:
                terms.append(penalty)
        return terms

    def training_step(self, batches: list[torch.Tensor] | torch.Tensor, call_index: int) -> None:
        """One optimizer step per mini-batch of ``batches`` (``trainer.steps_per_call`` of them):
        Lightning's per-call overhead, larger than a small model's step, is paid once for all.
        A plain tensor (from a DataLoader of your own) is one mini-batch."""
        for x in as_group(batches):
            terms = self.loss_terms(x)
            self.take_step(terms)  # backward from every term at once: no operator adds them up
            self.train_means.update(terms, weight=x.shape[0])

    def _log(self, values: dict[str, float]) -> None:
        """Hand an epoch's means straight to the loggers (rank 0 only) and to callbacks: Lightning's
        ``self.log`` machinery costs about a millisecond a call, as much as a small model's epoch."""
        self.trainer.callback_metrics.update({name: torch.tensor(value) for name, value in values.items()})
        if self.trainer.is_global_zero:
            for logger in self.loggers:
                logger.log_metrics(values, step=self.current_epoch)

    def on_train_epoch_end(self) -> None:
        """The epoch's training means, then ``val/loss`` over the val split, read with one host sync."""
        accumulated = [(self.train_means, self.train_means.totals(self.trainer.strategy, self.device))]
        datamodule = getattr(self.trainer, "datamodule", None)
        if hasattr(datamodule, "validation_batches"):
            accumulated.append((self.val_means, self.validation_totals(datamodule.validation_batches())))
        train, *val = read_together(*accumulated)  # the one host sync of an epoch
        for values in train:
            self._log(values)
            loss = values["train/loss"]
            if not math.isfinite(loss):  # checked once an epoch: no per-step sync
                raise TrainingDiverged(f"train/loss became {loss} in epoch {self.current_epoch}")
        for values in val[0] if val else ():
            self._log(values)

    def validation_totals(self, groups) -> torch.Tensor:
        """``val/loss`` over ``groups`` of mini-batches, as ``EpochMeans.totals``. Run here at the end of each
        training epoch rather than by Lightning's validation loop, which costs about a millisecond an
        epoch: a tenth of an epoch of digits."""
        with torch.no_grad():  # no layer of these models acts differently in eval mode
            for number, x in numbered_batches(groups):  # the task's fixed input for each: comparable across epochs
                self.val_means.update([self.validation_loss(self.task.test_input(x, number), x)], weight=x.shape[0])
        return self.val_means.totals(self.trainer.strategy, self.device)

    def on_test_epoch_start(self) -> None:
        self._test_batches = 0

    def test_step(self, batches: list[torch.Tensor] | torch.Tensor, call_index: int) -> None:
        for x in as_group(batches):
            self.evaluation.update(self, x, self._test_batches)  # the mini-batch's number fixes its test noise
            self._test_batches += 1

    def on_test_epoch_end(self) -> None:
        self.log_dict(self.evaluation.compute(), sync_dist=True)  # torchmetrics synced them already
        self.evaluation.reset()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        """Adam; its fused kernel where the device has one (a quarter off a small model's CPU step)."""
        try:
            return torch.optim.Adam(self.parameters(), lr=self.lr, fused=True)
        except (RuntimeError, ValueError):  # a device without the fused kernel
            return torch.optim.Adam(self.parameters(), lr=self.lr)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
