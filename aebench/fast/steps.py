"""What the fast path's LightningModules share: their own optimizer steps inside one Lightning call.

A small autoencoder takes a step in well under a millisecond, less than a Lightning step costs, so
a fast module takes ``trainer.steps_per_call`` optimizer steps inside each call (manual optimization).
"""
from __future__ import annotations

from typing import Any, Sequence

import lightning as L
import torch


class ManualStepModule(L.LightningModule):
    """A LightningModule that steps its optimizer itself (``take_step``)."""

    def __init__(self):
        super().__init__()
        self.automatic_optimization = False
        self._plain_optimizer: torch.optim.Optimizer | None = None

    def __setattr__(self, name: str, value: Any) -> None:
        """Lightning names the hook it runs on the module around every hook call (about 30 times an
        epoch): a plain string, which needs none of the parameter, buffer and submodule checks of
        nn.Module's ``__setattr__`` (about 2 microseconds each: 0.06 ms an epoch, BENCHMARKS.md)."""
        if name == "_current_fx_name":
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def on_train_start(self) -> None:
        # one process and no loss scaling: step the optimizer directly, skipping Lightning's wrappers
        scaled = getattr(self.trainer.precision_plugin, "scaler", None) is not None
        self._plain_optimizer = self.optimizers().optimizer if self.trainer.world_size == 1 and not scaled else None

    def take_step(self, loss: torch.Tensor | Sequence[torch.Tensor],
                  gradients: Sequence[torch.Tensor] | None = None) -> None:
        """One optimizer step descending ``loss``: a scalar, several scalars (their sum), or tensors whose
        values weigh in by ``gradients`` (the sum of each tensor's values times its gradient). Backward
        starts from all of them at once, so no operator adds them up (one node fewer each way per term).
        The step is taken directly where it can be, else through Lightning, which keeps gradient
        scaling (fp16) and data parallelism right."""
        if self._plain_optimizer is not None:
            self._plain_optimizer.zero_grad(set_to_none=True)
            torch.autograd.backward(*differentiable(loss, gradients))
            self._plain_optimizer.step()
        else:
            optimizer = self.optimizers()
            optimizer.zero_grad()
            self.manual_backward(one_scalar(loss, gradients))
            optimizer.step()


def differentiable(loss: torch.Tensor | Sequence[torch.Tensor], gradients: Sequence[torch.Tensor] | None):
    """The terms that depend on a parameter, with their gradients: backward refuses a constant one,
    which adds nothing to any gradient (a sum of terms would carry it along)."""
    if isinstance(loss, torch.Tensor) or all(term.requires_grad for term in loss):
        return loss, gradients
    keep = [index for index, term in enumerate(loss) if term.requires_grad]
    return [loss[i] for i in keep], None if gradients is None else [gradients[i] for i in keep]


def one_scalar(loss: torch.Tensor | Sequence[torch.Tensor], gradients: Sequence[torch.Tensor] | None) -> torch.Tensor:
    """What ``take_step`` descends as one scalar, for Lightning's backward."""
    if isinstance(loss, torch.Tensor):
        return loss
    if gradients is not None:
        loss = [(tensor * gradient).sum() for tensor, gradient in zip(loss, gradients)]
    total = loss[0]
    for term in loss[1:]:  # added one by one: mixed precision may give the terms different dtypes
        total = total + term
    return total
