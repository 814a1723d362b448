"""One autoencoder trained the fast way: ``trainer.steps_per_call`` optimizer steps inside each
Lightning step, loss terms kept as device-side epoch means and read with one host sync an epoch,
validation run at the end of each training epoch in large batches, logging once an epoch.

It trains the very :class:`~aebench.models.Autoencoder` it wraps, through that model's own
``loss_terms``, ``validation_loss`` and ``configure_optimizers``: the same steps on the same batches as
the reference path (``tests/test_fast_path.py`` holds the two to the same weights and metrics).
"""
from __future__ import annotations

import math

import lightning as L
import torch

from aebench.data.batches import TensorBatches, numbered_batches
from aebench.data.datamodule import AutoencoderDataModule
from aebench.errors import TrainingDiverged
from aebench.fast.epoch_means import EpochMeans, read_together
from aebench.fast.steps import ManualStepModule
from aebench.models.autoencoder import Autoencoder
from aebench.models.schedules import step_schedule


def as_group(batches: list[torch.Tensor] | torch.Tensor) -> list[torch.Tensor]:
    return [batches] if isinstance(batches, torch.Tensor) else batches


class FastAutoencoder(ManualStepModule):
    """Trains ``model`` with many optimizer steps per Lightning step; test it with ``model`` itself."""

    def __init__(self, model: Autoencoder):
        super().__init__()
        self.model = model
        self.train_means = EpochMeans(model.term_names)
        self.val_means = EpochMeans(["val/loss"])

    def configure_optimizers(self) -> torch.optim.Optimizer | dict:
        optimization = self.model.optimization(self.trainer.max_epochs)
        if isinstance(optimization, dict):  # this module steps the schedule itself, reading val/loss
            optimization["lr_scheduler"].pop("monitor", None)
        return optimization

    def training_step(self, batches: list[torch.Tensor] | torch.Tensor, call_index: int) -> None:
        """One optimizer step per mini-batch of ``batches``: Lightning's per-call overhead, larger than a
        small model's step, is paid once for all. A plain tensor is one mini-batch."""
        for x in as_group(batches):
            terms = self.model.loss_terms(x)
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
        schedule = self.lr_schedulers()  # stepped once an epoch, after validation, as on the reference path
        if schedule is not None:
            step_schedule(schedule, val[0][0]["val/loss"] if val and val[0] else None)

    def validation_totals(self, batches) -> torch.Tensor:
        """``val/loss`` over the val ``batches``, as ``EpochMeans.totals``. Run here at the end of each training
        epoch rather than by Lightning's validation loop, which costs about a millisecond an epoch: a tenth
        of an epoch of digits."""
        model = self.model
        with torch.no_grad():  # no layer of these models acts differently in eval mode
            for number, x in numbered_batches(batches):  # the task's fixed input for each: comparable across epochs
                self.val_means.update([model.validation_loss(model.task.test_input(x, number), x)], weight=x.shape[0])
        return self.val_means.totals(self.trainer.strategy, self.device)


class FastDataModule(L.LightningDataModule):
    """A datamodule's training batches in groups of ``steps_per_call`` (one group a Lightning step; one
    mini-batch under data parallelism) and its validation batches, for :class:`FastAutoencoder`."""

    def __init__(self, datamodule: AutoencoderDataModule, steps_per_call: int):
        super().__init__()
        self.inner, self.steps_per_call = datamodule, steps_per_call

    def transfer_batch_to_device(self, batch, device: torch.device, dataloader_idx: int):
        return batch  # sliced on the training device already

    def setup(self, stage: str) -> None:
        self.inner.trainer = self.trainer  # its batches follow this trainer's device and process rank

    def train_dataloader(self) -> TensorBatches:
        group = self.steps_per_call if self.trainer.world_size == 1 else 1  # data parallel: one step a call
        return self.inner.batches("train", shuffle=True, group=group)

    def validation_batches(self) -> TensorBatches:
        return self.inner.validation_batches()

    def teardown(self, stage: str) -> None:
        self.inner.teardown(stage)
