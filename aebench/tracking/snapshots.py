"""Reconstructions logged while a run trains, for the MLflow UI's image slider: validation images
(never test ones: nothing of the test split is looked at before the test) above the model's
output, with ``log_image`` under the key ``reconstructions`` and the epoch as the step, at epochs
0, 1, 2, 4, 8, ... and the last, so a run of any length gets a handful of steps."""
from __future__ import annotations

from typing import Callable, Sequence

import lightning as L
import torch

from aebench.tracking.artifacts import image_grid
from aebench.tracking.store import TrackingStore

KEY = "reconstructions"


def snapshot_epoch(epoch: int) -> bool:
    """0, 1, 2, 4, 8, ...: powers of two (and 0)."""
    return epoch & (epoch - 1) == 0


class ReconstructionSnapshots(L.Callback):
    """``rows(model)`` gives the grid's rows for the model as it is; logged at :func:`snapshot_epoch` epochs
    and when training ends."""

    def __init__(self, store: TrackingStore, run_id: str, rows: Callable[[torch.nn.Module], Sequence[torch.Tensor]],
                 model: torch.nn.Module):
        self.store, self.run_id, self.rows, self.model = store, run_id, rows, model
        self.logged: list[int] = []

    def _log(self, epoch: int) -> None:
        was_training = self.model.training
        self.model.eval()
        with torch.no_grad():
            grid = image_grid(self.rows(self.model))
        self.model.train(was_training)
        self.store.client.log_image(self.run_id, grid, key=KEY, step=epoch)
        self.logged.append(epoch)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero and snapshot_epoch(trainer.current_epoch):
            self._log(trainer.current_epoch)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        last = trainer.current_epoch - 1  # the epoch counter has moved past the last epoch trained
        if trainer.is_global_zero and last >= 0 and last not in self.logged:
            self._log(last)
