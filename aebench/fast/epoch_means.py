"""Sample-weighted epoch means of per-step loss terms, kept on the device and read once an epoch.

Logging from every step costs more than a small model's whole step and syncs the host with the
device; keeping each step's detached values costs neither. One class serves a model alone (a
step gives a scalar per name) and K seeds trained together (a step gives a (K,) tensor per name).
"""
from __future__ import annotations

from typing import Sequence

import torch


class EpochMeans:
    """Sample-weighted means of ``names`` over an epoch's steps, for ``rows`` models (seeds) at once.

    ``totals`` gives the weighted sums and the summed weight as one device tensor, reduced across
    processes before dividing (so a mean is exact under data parallelism); ``means`` reads them
    once they are on the host, so that several accumulators cost one host sync together.
    """

    def __init__(self, names: Sequence[str], rows: int = 1):
        self.names, self.rows = list(names), rows
        self._values: list[torch.Tensor] = []  # every step's detached values, one after another
        self._weights: list[int] = []

    @property
    def width(self) -> int:
        """How many values ``totals`` holds: names x rows (name-major), then the summed weight."""
        return self.rows * len(self.names) + 1

    def update(self, values: Sequence[torch.Tensor], weight: int) -> None:
        """One step's values, one per name: scalars (one model) or (rows,) tensors (one value per seed)."""
        self._values.extend(value.detach() for value in values)
        self._weights.append(weight)

    def totals(self, strategy=None, device: torch.device | None = None) -> torch.Tensor:
        """(width,) float64 on the device: each value's weighted sum over the epoch, then the summed
        weight, reduced over processes when ``strategy`` is given. Resets the accumulator."""
        if self._values:
            steps = torch.stack(self._values).double().view(len(self._weights), self.width - 1)
            weights = torch.tensor(self._weights, dtype=torch.float64, device=steps.device)
            sums = torch.cat([weights @ steps, weights.sum().reshape(1)])
        else:  # every process takes part in the reduction, even one with no steps
            sums = torch.zeros(self.width, dtype=torch.float64, device=device)
        self._values, self._weights = [], []
        return sums if strategy is None else strategy.reduce(sums, reduce_op="sum")

    def means(self, totals: Sequence[float]) -> list[dict[str, float]]:
        """One ``{name: mean}`` per row from ``totals`` read on the host; empty when no
        sample was seen (or ``totals`` is empty)."""
        if not totals or totals[-1] == 0:
            return []
        *sums, weight = totals
        return [{name: sums[index * self.rows + row] / weight for index, name in enumerate(self.names)}
                for row in range(self.rows)]


def read_together(*pairs: tuple[EpochMeans, torch.Tensor]) -> list[list[dict[str, float]]]:
    """``means`` of each accumulator from its ``totals``, all read to the host with one sync."""
    host = torch.cat([totals for _, totals in pairs]).tolist()
    read, start = [], 0
    for means, _ in pairs:
        read.append(means.means(host[start:start + means.width]))
        start += means.width
    return read
