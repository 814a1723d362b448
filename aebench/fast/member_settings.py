"""Regularizer settings that the members of one vectorised model set apart (``Regularizer.per_member``:
sparse_kl's target), so that the trials of a tuned sweep that draw them train together.

The members' models share one template (the first member's), whose loss terms a vectorised step runs
for all. For the length of a step, each setting that differs between members is replaced on the
template's regularizer by a tensor of the active members' values: (K,) on the batched products
(``aebench.fast.seed_penalties`` shapes it for its stacked tensors), and each member's own 0-d value
inside ``vmap``. The template's own value is put back after the step.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Sequence

import torch

from aebench.models.autoencoder import Autoencoder
from aebench.regularizers import Regularizer


class MemberSettings:
    """The per-member settings of K models' regularizers where they differ: (regularizer, setting, (K,) values)."""

    def __init__(self, models: Sequence[Autoencoder]):
        template = models[0]
        self.settings: list[tuple[Regularizer, str, torch.Tensor]] = []
        for index, regularizer in enumerate(template.regularizers):
            if not regularizer.has_penalty:
                continue  # a corruption is drawn with each member's own regularizer (aebench.fast.member_draws)
            for setting in regularizer.per_member:
                values = [float(getattr(model.regularizers[index], setting)) for model in models]
                if any(value != values[0] for value in values):
                    self.settings.append((regularizer, setting, torch.tensor(values, dtype=torch.float32)))
        self.active: list[torch.Tensor] = [values for _, _, values in self.settings]

    def __bool__(self) -> bool:
        return bool(self.settings)

    def retain(self, members: list[int], device: torch.device) -> None:
        """Only these members' values (by member index), on ``device``, from now on."""
        index = torch.tensor(members, dtype=torch.long)
        self.active = [values[index].to(device) for _, _, values in self.settings]

    @contextmanager
    def applied(self, values: Sequence[torch.Tensor] | None = None) -> Iterator[None]:
        """The template's regularizers read ``values`` (default: the active members', (K,)) in place of
        their own settings for the length of the block."""
        values = self.active if values is None else values
        before = [getattr(regularizer, setting) for regularizer, setting, _ in self.settings]
        try:
            for (regularizer, setting, _), value in zip(self.settings, values):
                setattr(regularizer, setting, value)
            yield
        finally:
            for (regularizer, setting, _), value in zip(self.settings, before):
                setattr(regularizer, setting, value)
