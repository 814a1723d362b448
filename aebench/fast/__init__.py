"""The fast path: the same training as the reference LightningModule, arranged for small models.

A small autoencoder takes a step in well under a millisecond, less than a Lightning step costs, so
``trainer.fast=true`` (the default) trains through these wrappers instead of Lightning's own loop:

- ``single.FastAutoencoder``: ``trainer.steps_per_call`` optimizer steps per Lightning step, epoch
  means kept on the device (``epoch_means``), validation at the end of each epoch, one host sync;
- ``seeds.SeedEnsemble``: several seeds of one combination as one vectorised model, as batched
  matrix products (``seed_batched``, with the penalties of ``seed_penalties``) or through ``vmap``.

Both call the model's own ``loss_terms``, ``validation_loss`` and ``configure_optimizers``, so a new
model, regularizer or task runs on the fast path without a change here, or, where the fast path
cannot honour it (``fast_support``), on the reference path with the reason logged on the run.
"""
from __future__ import annotations

from dataclasses import dataclass

import lightning as L

from aebench.data.datamodule import AutoencoderDataModule
from aebench.fast.seeds import SeedDataModule, SeedEnsemble
from aebench.fast.single import FastAutoencoder, FastDataModule
from aebench.models.autoencoder import Autoencoder

# the hooks the fast path replaces: a model overriding one of them trains on the reference path
REPLACED_HOOKS = ("training_step", "validation_step", "on_train_epoch_end", "on_train_batch_end")


def fast_support(model: Autoencoder) -> str | None:
    """Why the fast path cannot train ``model`` as the reference path would, or None when it can."""
    for hook in REPLACED_HOOKS:
        if getattr(type(model), hook) is not getattr(Autoencoder, hook):
            return f"{type(model).__name__} overrides {hook}, which the fast path does not call"
    if type(model).configure_optimizers is not Autoencoder.configure_optimizers:
        return (f"{type(model).__name__} overrides configure_optimizers; the fast path steps only the learning-rate "
                "schedules of trainer.lr_schedule")
    return None


@dataclass(frozen=True)
class TrainingPath:
    """What ``Trainer.fit`` takes for one model: the module and datamodule, the path's name, and why the
    fast path was not taken where it was asked for."""

    module: L.LightningModule
    datamodule: L.LightningDataModule
    name: str
    fallback_reason: str | None = None


def choose_path(model: Autoencoder, datamodule: AutoencoderDataModule, *, fast: bool,
                steps_per_call: int) -> TrainingPath:
    """The fast path where it is asked for and supported, else the reference path (the model itself)."""
    if not fast:
        return TrainingPath(model, datamodule, "reference")
    reason = fast_support(model)
    if reason is not None:
        return TrainingPath(model, datamodule, "reference", reason)
    return TrainingPath(FastAutoencoder(model), FastDataModule(datamodule, steps_per_call), "fast")


__all__ = ["FastAutoencoder", "FastDataModule", "SeedDataModule", "SeedEnsemble", "TrainingPath", "choose_path",
           "fast_support"]
