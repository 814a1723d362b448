"""Choosing weights on validation data: the best epoch by ``val/loss``, early stopping, and the
restore of the best weights before the test.

``val/loss`` is each task's clean objective (``Autoencoder.validation_loss``: the reconstruction
error of clean validation inputs, without penalties), so a regularized run and a plain one are
stopped and selected on the same quantity. The test split is never read here.

- :class:`BestWeights`: a Lightning checkpoint callback that keeps the weights of the best epoch in
  memory and loads them back when the fit ends; beside Lightning's ``EarlyStopping`` it serves a
  single model on either training path.
- :class:`BestEpochs`: the same bookkeeping for K models trained together (vectorised seeds), with
  ``EarlyStopping``'s rule applied to each: a model stops improving when ``patience`` epochs in a
  row bring no lower ``val/loss``; its best epoch is chosen among the epochs before it stopped.
"""
from __future__ import annotations

import math

import torch
from lightning.pytorch.callbacks import Checkpoint

MONITOR = "val/loss"


class BestEpochs:
    """Per model (row): the lowest ``val/loss`` so far, its epoch, and whether it has stopped."""

    def __init__(self, rows: int, patience: int | None):
        self.patience = patience
        self.best_loss = [math.inf] * rows
        self.best_epoch = [-1] * rows
        self.epochs_trained = [0] * rows
        self.waiting = [0] * rows
        self.stopped = [False] * rows

    def update(self, epoch: int, losses: list[float]) -> list[bool]:
        """Record an epoch's validation losses; returns which rows improved (stopped rows never do)."""
        improved = []
        for row, loss in enumerate(losses):
            better = not self.stopped[row] and loss < self.best_loss[row]
            if not self.stopped[row]:
                self.epochs_trained[row] = epoch + 1
                if better:
                    self.best_loss[row], self.best_epoch[row], self.waiting[row] = loss, epoch, 0
                else:
                    self.waiting[row] += 1
                    self.stopped[row] = self.patience is not None and self.waiting[row] >= self.patience
            improved.append(better)
        return improved

    @property
    def all_stopped(self) -> bool:
        return all(self.stopped)

    def summary(self, row: int = 0) -> dict[str, float]:
        """What a run logs of its selection: the best epoch, ``val/loss`` there, and the epochs it trained."""
        if self.best_epoch[row] < 0:
            return {"train/epochs_trained": float(self.epochs_trained[row])}
        return {"train/best_epoch": float(self.best_epoch[row]), "val/best_loss": self.best_loss[row],
                "train/epochs_trained": float(self.epochs_trained[row])}


class BestWeights(Checkpoint):
    """Keep the module's weights of the epoch with the lowest ``val/loss`` (in memory) and load them
    back when the fit ends, so the test scores the selected weights. A checkpoint callback, so
    Lightning runs it after the module's own ``on_train_epoch_end`` (where the fast path puts
    ``val/loss``) as well as after its validation loop (the reference path)."""

    def __init__(self):
        self.epochs = BestEpochs(1, patience=None)
        self._names: list[str] = []
        self._live: list[torch.Tensor] = []          # the module's own parameters and buffers
        self._best: list[torch.Tensor] | None = None  # their values at the best epoch

    def on_train_start(self, trainer, pl_module) -> None:
        state = pl_module.state_dict(keep_vars=True)  # listed once: each improvement is one copy of all
        self._names, self._live = list(state), [value.detach() for value in state.values()]
        self._best = None

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        loss = trainer.callback_metrics.get(MONITOR)
        if loss is None:
            self.epochs.epochs_trained[0] = trainer.current_epoch + 1
            return
        if self.epochs.update(trainer.current_epoch, [float(loss)])[0]:
            if self._best is None:
                self._best = [value.clone() for value in self._live]
            else:
                torch._foreach_copy_(self._best, self._live)

    def on_train_end(self, trainer, pl_module) -> None:
        if self._best is not None:
            pl_module.load_state_dict(dict(zip(self._names, self._best)))

    def summary(self) -> dict[str, float]:
        return self.epochs.summary()
