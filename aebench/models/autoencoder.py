"""The one LightningModule behind every variant: encoder -> bottleneck -> decoder, plus regularizers.

Variants differ only in the encoder, bottleneck and decoder they build (``mlp.py``, ``conv.py``,
``stacked.py``, ``vae.py``). This is the reference path, a LightningModule as Lightning documents
it: automatic optimization, ``training_step`` / ``validation_step`` / ``test_step`` and ``self.log``,
so early stopping, checkpoints and schedulers work as their documentation says. The fast path
(``aebench.fast``) trains the same module many steps per call and is tested against this one.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import lightning as L
import torch
from torch import nn

from aebench.errors import TrainingDiverged, require_choice, require_number
from aebench.evaluate.metrics import MetricOptions
from aebench.evaluate.scoring import TestEvaluation
from aebench.models.bottleneck import Bottleneck, IdentityBottleneck, Latent
from aebench.models.layers import RECONSTRUCTION_LOSSES, masked_mean, reconstruction_loss
from aebench.models.schedules import SCHEDULES, learning_rate_schedule, with_schedule
from aebench.needs import Facts, Need, check_needs
from aebench.regularizers.base import Regularizer
from aebench.tasks.base import Reconstruct, Task

# keyword arguments of Autoencoder that every builder passes through unchanged
TRAINING_OPTIONS = ("loss", "lr", "lr_schedule", "unit_range", "regularizers", "metric_options", "output_shape",
                    "task")
# what every variant needs (a variant declares its own beside these: aebench.models.registry.ModelCard)
MODEL_NEEDS = (Need("bce needs data in [0, 1]", lambda f: f.loss != "bce" or f.unit_range, "model.loss",
                    lambda f: f.loss, lambda f: f"mse or l1: {f.data} is not scaled to [0, 1]"),)


def adam(parameters, lr: float) -> torch.optim.Adam:
    """Adam, fused where the device has the kernel."""
    parameters = list(parameters)
    try:
        return torch.optim.Adam(parameters, lr=lr, fused=True)
    except (RuntimeError, ValueError):  # a device without the fused kernel
        return torch.optim.Adam(parameters, lr=lr)


class Autoencoder(L.LightningModule):
    """An autoencoder trained to reconstruct its (clean) input.

    Args:
        encoder: maps a batch shaped ``(B, *input_shape)`` to features ``(B, width)``; with the identity
            bottleneck these are the code, and its last module is the code activation.
        decoder: maps codes back to ``(B, *input_shape)`` (logits when ``loss="bce"``).
        architecture: the registry name and keyword arguments that rebuild this model.
        input_shape: one sample's shape, ``(features,)`` or ``(channels, height, width)``.
        output_shape: the decoder's, when it differs (colourising grey inputs); else the input's.
        code_activation: name of the code layer's activation (regularizers and metrics use it).
        loss: ``mse``, ``l1`` or ``bce`` (binary cross-entropy on logits; inputs in [0, 1]).
        lr: Adam's learning rate.
        lr_schedule: ``none``, ``cosine`` or ``plateau``, stepped once an epoch (``aebench.models.schedules``).
        unit_range: inputs lie in [0, 1], so PSNR and SSIM are reported.
        regularizers: corruptions and penalties applied in training (``aebench.regularizers``).
        metric_options: settings of the test metrics.
        task: what the model learns to produce from what (``aebench.tasks``; default: reconstruct its input).
        bottleneck: features -> code, the decoder's sample and its own loss terms (default: the identity).
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, *, architecture: dict[str, Any],
                 input_shape: tuple[int, ...], code_dim: int, code_activation: str,
                 loss: str = "mse", lr: float = 1e-3, lr_schedule: str = "none", unit_range: bool = True,
                 regularizers: Sequence[Regularizer] = (), metric_options: MetricOptions = MetricOptions(),
                 output_shape: Sequence[int] | None = None, task: Task | None = None,
                 bottleneck: Bottleneck | None = None):
        super().__init__()
        require_choice("loss", loss, RECONSTRUCTION_LOSSES)
        check_needs(MODEL_NEEDS, Facts(tuple(input_shape), unit_range=unit_range, loss=loss))
        self.lr = require_number("lr", lr, minimum=0.0, open_minimum=True)
        self.lr_schedule = require_choice("lr_schedule", lr_schedule, SCHEDULES)
        self.encoder, self.decoder = encoder, decoder
        self.bottleneck = bottleneck or IdentityBottleneck()
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
        self.needs_input_grad = any(r.needs_input_grad for r in self.regularizers)
        penalties = [f"train/penalty/{r.name}" for r in self.regularizers if r.has_penalty]
        # the names of loss_terms' values, in its order
        self.term_names = ["train/loss", *(f"train/{name}" for name in self.bottleneck.term_names), *penalties]
        self.evaluation = TestEvaluation(self.code_encoder, self.output_shape, code_dim, code_activation, unit_range,
                                         metric_options, self.bottleneck.term_names)

    @property
    def variant(self) -> str:
        return self.architecture["name"]

    def facts(self) -> Facts:
        """What this model knows of its run, for the needs of its plugins (``aebench.needs``)."""
        names = [r.name for r in self.regularizers]
        return Facts(self.output_shape, unit_range=self.unit_range, model=self.variant,
                     code_activation=self.code_activation, code_dim=self.code_dim, loss=self.loss_name,
                     regularizer="+".join(names) or "none",
                     corrupting_regularizers=tuple(r.name for r in self.regularizers if r.corrupts),
                     task=self.task.name, task_reshapes_input=self.input_shape != self.output_shape)

    @property
    def code_encoder(self) -> nn.Module:
        """x -> code, deterministically: the module whose Jacobian the contractive penalty and metric take."""
        if isinstance(self.bottleneck, IdentityBottleneck):
            return self.encoder
        return nn.Sequential(self.encoder, self.bottleneck.code_layer)  # the model's own modules, not copies

    def encode(self, x: torch.Tensor) -> Latent:
        """The latent seam: every consumer of codes reads ``encode(x).code``."""
        return self.bottleneck(self.encoder(x))

    def code_of(self, x: torch.Tensor) -> torch.Tensor:
        """``encode(x).code``, for consumers that need only the code."""
        return self.encode(x).code

    def to_reconstruction(self, decoder_output: torch.Tensor) -> torch.Tensor:
        """Decoder output to input space: the sigmoid of the logits for ``bce``, else unchanged."""
        return torch.sigmoid(decoder_output) if self.loss_name == "bce" else decoder_output

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        return self.to_reconstruction(self.decoder(code))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.code_of(x))

    def reconstruction_loss(self, decoder_output: torch.Tensor, target: torch.Tensor,
                            mask: torch.Tensor | None = None) -> torch.Tensor:
        """The loss over every value, or over those where ``mask`` is true (the task's: rated entries)."""
        if mask is None:
            return reconstruction_loss(self.loss_name, decoder_output, target)
        return masked_mean(reconstruction_loss(self.loss_name, decoder_output, target, reduction="none"), mask)

    def validation_loss(self, inputs: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The clean objective: the loss of reconstructing ``x`` from the code of the task's fixed input for it
        (``x`` itself by default), without penalties, so regularized and plain runs compare; over the values
        the task scores (held-out ratings for ``recommend``)."""
        return self.reconstruction_loss(self.decoder(self.code_of(inputs)), x, self.task.scoring_mask(inputs, x))

    def loss_terms(self, x: torch.Tensor, inputs: torch.Tensor | None = None) -> list[torch.Tensor]:
        """[reconstruction loss against the clean x, the bottleneck's terms, then each penalty], on the
        task's (and the regularizers') corrupted input, drawn here unless given as ``inputs``; named by
        ``term_names``."""
        if inputs is None:
            inputs = self.task.training_input(x)
            for regularizer in self.regularizers:
                inputs = regularizer.corrupt(inputs)
        if self.needs_input_grad:
            inputs = inputs.detach().requires_grad_(True)
        latent = self.encode(inputs)
        terms = [self.reconstruction_loss(self.decoder(latent.sample), x, self.task.training_mask(x)),
                 *latent.terms.values()]
        for regularizer in self.regularizers:
            penalty = regularizer.penalty(self, inputs, latent.code)
            if penalty is not None:
                terms.append(penalty)
        return terms

    def training_step(self, x: torch.Tensor, batch_idx: int) -> torch.Tensor:
        terms = self.loss_terms(x)
        for name, value in zip(self.term_names, terms):
            self.log(name, value, on_step=False, on_epoch=True, batch_size=x.shape[0], sync_dist=True)
        return sum(terms)

    def on_train_epoch_end(self) -> None:
        loss = self.trainer.callback_metrics.get("train/loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise TrainingDiverged(f"train/loss became {float(loss)} in epoch {self.current_epoch}")

    def validation_step(self, x: torch.Tensor, batch_idx: int) -> None:
        """``val/loss``, the clean objective of the task's fixed input for batch ``batch_idx``."""
        loss = self.validation_loss(self.task.test_input(x, batch_idx), x)
        self.log("val/loss", loss, on_step=False, on_epoch=True, batch_size=x.shape[0], sync_dist=True)

    def test_step(self, x: torch.Tensor, batch_idx: int) -> None:
        self.evaluation.update(self, x, batch_idx)  # the mini-batch's number fixes its test noise

    def on_test_epoch_end(self) -> None:
        self.log_dict(self.evaluation.compute(), sync_dist=True)  # torchmetrics synced them already
        self.evaluation.reset()

    def configure_optimizers(self) -> torch.optim.Optimizer | dict:
        return self.optimization(self.trainer.max_epochs)

    def optimization(self, epochs: int) -> torch.optim.Optimizer | dict:
        """Adam (its fused kernel where the device has one: a quarter off a small model's CPU step),
        with the ``lr_schedule`` over ``epochs`` epochs (``aebench.models.schedules``)."""
        optimizer = adam(self.parameters(), self.lr)
        return with_schedule(optimizer, learning_rate_schedule(self.lr_schedule, optimizer, epochs))

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
