"""Mini-batches sliced from a tensor that already lives on the training device (uint8 images are
converted to float there, one batch at a time).

For models this small a DataLoader's per-sample indexing and collation cost as much as the
training step itself; slicing a resident tensor by a shuffled index costs almost nothing.
"""
from __future__ import annotations

from typing import Iterator

import torch

from aebench.data.arrays import as_float


def numbered_batches(groups) -> Iterator[tuple[int, torch.Tensor]]:
    """The mini-batches of ``groups`` (lists of them, or single tensors) in order, numbered from 0: the
    number fixes a task's test-time corruption of the batch (``Task.test_input``)."""
    return enumerate(batch for group in groups for batch in ([group] if isinstance(group, torch.Tensor) else group))


class TensorBatches:
    """An iterable of mini-batches of ``data``, reshuffled each pass when ``shuffle`` is set, handed
    out ``group`` at a time (the model takes one optimizer step per mini-batch of a group).

    Under data parallelism each of ``world_size`` processes takes every ``world_size``-th
    sample of the (shared, seeded) order, starting at ``rank``. In training the shards are cut
    to equal length so that every process takes the same number of steps; in evaluation
    (``drop_uneven=False``) every sample is seen exactly once across processes.
    """

    def __init__(self, data: torch.Tensor, batch_size: int, *, shuffle: bool, seed: int = 0,
                 rank: int = 0, world_size: int = 1, drop_uneven: bool = True, group: int = 1):
        self.data = data
        self.batch_size = batch_size
        self.group = group
        self.shuffle = shuffle
        self.rank, self.world_size = rank, world_size
        self.drop_uneven = drop_uneven
        self._generator = torch.Generator().manual_seed(seed)

    def _shard_size(self) -> int:
        n = self.data.shape[0]
        if self.drop_uneven:
            return n // self.world_size
        return len(range(self.rank, n, self.world_size))

    def batches_per_pass(self) -> int:
        return -(-self._shard_size() // self.batch_size)

    def __len__(self) -> int:
        return -(-self.batches_per_pass() // self.group)

    def __iter__(self):
        """Mini-batches (``group`` 1), or lists of up to ``group`` consecutive ones (one list per Lightning
        step of the fast path). Each group is gathered by one indexing operation and converted to float
        at once, then cut into views: one operation a group instead of one a mini-batch."""
        order = self._order()
        span = self.batch_size * self.group
        for start in range(0, self._shard_size() if order is None else order.shape[0], span):
            if order is None:  # in order, one process: views of float data, no copy
                chunk = as_float(self.data[start:start + span])
            else:
                chunk = as_float(self.data.index_select(0, order[start:start + span]))
            yield chunk if self.group == 1 else list(chunk.split(self.batch_size))

    def _order(self) -> torch.Tensor | None:
        """This process's sample indices for one pass, on the data's device; None for all, in order."""
        n = self.data.shape[0]
        if not self.shuffle and self.world_size == 1:
            return None
        order = torch.randperm(n, generator=self._generator) if self.shuffle else torch.arange(n)
        order = order[self.rank::self.world_size][: self._shard_size()]
        return order.to(self.data.device, non_blocking=True)
