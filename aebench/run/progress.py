"""A run's progress a person can read: one line per epoch (rewritten in place on a terminal) with
the epoch, the train and validation loss, the best validation loss so far and samples per second.
It replaces Lightning's bar, which counts Lightning steps: on the fast path one Lightning step
holds ``trainer.steps_per_call`` optimizer steps, so the bar read ``1/1 0.00it/s`` every epoch."""
from __future__ import annotations

import math
import sys
import time

import lightning as L


class EpochProgress(L.Callback):
    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.started = self.epoch_started = 0.0
        self.best = math.inf
        self.best_epoch = -1
        self.printed = -1

    def on_train_start(self, trainer, pl_module) -> None:
        self.started = self.epoch_started = time.perf_counter()

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        # the previous epoch's metrics are complete now (the fast path sets them at its epoch's end)
        if trainer.current_epoch > 0:
            self._line(trainer, trainer.current_epoch - 1)
        self.epoch_started = time.perf_counter()

    def on_train_end(self, trainer, pl_module) -> None:
        self._line(trainer, trainer.current_epoch - 1, last=True)

    def _line(self, trainer, epoch: int, last: bool = False) -> None:
        if epoch < 0 or epoch == self.printed:
            if last:
                self.stream.write("\n" if self.stream.isatty() else "")
            return
        self.printed = epoch
        metrics = trainer.callback_metrics
        seconds = time.perf_counter() - self.epoch_started
        parts = [f"epoch {epoch + 1}/{trainer.max_epochs}"]
        if "train/loss" in metrics:
            parts.append(f"train {float(metrics['train/loss']):.4g}")
        if "val/loss" in metrics:
            value = float(metrics["val/loss"])
            if value < self.best:
                self.best, self.best_epoch = value, epoch + 1
            parts.append(f"val {value:.4g} (best {self.best:.4g} at epoch {self.best_epoch})")
        samples = _train_samples(trainer)
        if samples and seconds > 0:
            parts.append(f"{samples / seconds:,.0f} samples/s")
        parts.append(f"{time.perf_counter() - self.started:.2f} s")
        text = " | ".join(parts)
        if self.stream.isatty():
            self.stream.write("\r" + text.ljust(100) + ("\n" if last else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


def _train_samples(trainer) -> int | None:
    data = getattr(trainer, "datamodule", None)
    data = getattr(data, "inner", data)  # the fast path wraps the run's datamodule
    split = getattr(getattr(data, "split", None), "train", None)
    return None if split is None else len(split)
