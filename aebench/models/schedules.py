"""Learning-rate schedules, stepped once an epoch (``trainer.lr_schedule``).

- ``cosine``: lr_t = lr / 2 * (1 + cos(pi * t / T)) over T = ``trainer.max_epochs`` epochs
  (Loshchilov & Hutter, "SGDR", ICLR 2017, without restarts), the same for every run of a sweep
  and for every seed trained together;
- ``plateau``: the learning rate halves after ``PLATEAU_PATIENCE`` epochs without a lower
  ``val/loss`` (PyTorch's ``ReduceLROnPlateau``), each run following its own validation loss;
- ``none``: constant.
"""
from __future__ import annotations

import torch

SCHEDULES = ("none", "cosine", "plateau")
PLATEAU_PATIENCE, PLATEAU_FACTOR = 3, 0.5


def learning_rate_schedule(name: str, optimizer: torch.optim.Optimizer,
                           epochs: int) -> torch.optim.lr_scheduler.LRScheduler | None:
    """The schedule ``name`` over ``epochs`` epochs, or None for a constant learning rate."""
    if name == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, epochs))
    if name == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=PLATEAU_FACTOR,
                                                          patience=PLATEAU_PATIENCE)
    return None


def with_schedule(optimizer: torch.optim.Optimizer, schedule) -> torch.optim.Optimizer | dict:
    """What ``configure_optimizers`` returns: the optimizer alone, or with its epoch schedule as
    Lightning documents it (a plateau schedule follows ``val/loss``)."""
    if schedule is None:
        return optimizer
    plateau = isinstance(schedule, torch.optim.lr_scheduler.ReduceLROnPlateau)
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "epoch", "frequency": 1,
                                                     **({"monitor": "val/loss"} if plateau else {})}}


def step_schedule(schedule, val_loss: float | None) -> None:
    """One epoch's step, as Lightning takes it on the reference path: a plateau schedule reads the
    epoch's ``val/loss`` (and waits when there is none)."""
    if isinstance(schedule, torch.optim.lr_scheduler.ReduceLROnPlateau):
        if val_loss is not None:
            schedule.step(val_loss)
    else:
        schedule.step()


class PlateauFactor:
    """One model's plateau schedule as a factor of its learning rate, for models that share one
    optimizer (seeds trained together, each following its own ``val/loss``): PyTorch's
    ``ReduceLROnPlateau`` itself, stepping a stand-in optimizer whose learning rate starts at 1."""

    def __init__(self):
        self._optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
        self._schedule = learning_rate_schedule("plateau", self._optimizer, 0)

    def step(self, val_loss: float) -> None:
        self._schedule.step(val_loss)

    @property
    def factor(self) -> float:
        return self._optimizer.param_groups[0]["lr"]
