"""The LightningDataModule shared by every dataset: a seeded split served as device-resident batches."""
from __future__ import annotations

import math

import lightning as L
import torch

from aebench.data.arrays import DatasetArrays, Split, as_float, seeded_split
from aebench.data.batches import TensorBatches, numbered_batches
from aebench.errors import require_int

# input values one validation batch holds (4 MB of float32): no gradient is kept, so batches larger than
# training's cost less per sample, and the mean over the split does not depend on how it is cut
VALIDATION_VALUES = 2 ** 20


class AutoencoderDataModule(L.LightningDataModule):
    """Train, val and test batches of one dataset; labels are kept aside for evaluations.

    ``split_seed`` fixes which samples go where (the same for every run of a benchmark);
    ``shuffle_seed`` fixes the order of training batches (it follows the run's seed);
    ``split`` replaces the seeded split (the anomaly task leaves a class out of it).
    """

    def __init__(self, arrays: DatasetArrays, batch_size: int = 64, *, split_seed: int = 0,
                 val_fraction: float = 0.1, test_fraction: float = 0.2, shuffle_seed: int = 0,
                 split: Split | None = None):
        super().__init__()
        self.arrays = arrays
        self.batch_size = require_int("batch_size", batch_size, minimum=1)
        self.shuffle_seed = shuffle_seed
        self.split_options = {"split_seed": split_seed, "val_fraction": val_fraction, "test_fraction": test_fraction}
        self.split: Split = split or seeded_split(arrays.x.shape[0], **self.split_options,
                                                  test_indices=arrays.test_indices, val_indices=arrays.val_indices)
        self.stored = self._scaled(arrays)  # uint8 stays uint8
        self._on_device: dict[str, torch.Tensor] = {}

    def _scaled(self, arrays: DatasetArrays) -> torch.Tensor:
        """The values to train on, scaled with statistics of the train split alone (no val or test
        sample shapes what the model sees): standardized per feature, or mapped onto [0, 1] as a
        whole (the test split may then reach slightly past either end)."""
        if not (arrays.standardize or arrays.rescale):
            return arrays.x
        x, train = arrays.x.double(), arrays.x[self.split.train].double()
        if arrays.standardize:  # each feature minus its mean, over its deviation (1 where it is constant)
            mean, deviation = train.mean(dim=0), train.std(dim=0)
            deviation[deviation == 0] = 1.0
            return ((x - mean) / deviation).float()
        low, high = train.min(), train.max()
        return ((x - low) / (high - low if high > low else 1.0)).float()

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return self.arrays.sample_shape

    def inputs(self, stage: str) -> torch.Tensor:
        """All inputs of ``stage`` (train, val or test) on the CPU, as float32."""
        return as_float(self.stored[getattr(self.split, stage)])

    def labels(self, stage: str) -> torch.Tensor | None:
        labels = self.arrays.labels
        return None if labels is None else labels[getattr(self.split, stage)]

    def without_class(self, label: int) -> "AutoencoderDataModule":
        """The same data with class ``label`` left out of the train and val splits (the test keeps it)."""
        labels = self.arrays.labels
        split = Split(train=self.split.train[labels[self.split.train] != label],
                      val=self.split.val[labels[self.split.val] != label], test=self.split.test)
        return AutoencoderDataModule(self.arrays, self.batch_size, shuffle_seed=self.shuffle_seed, split=split,
                                     **self.split_options)

    def with_inputs(self, x: torch.Tensor, name: str) -> "AutoencoderDataModule":
        """The same split (a task's own included: anomaly leaves a class out) and batches over other
        per-sample inputs (codes of a lower layer, say)."""
        arrays = DatasetArrays(f"{self.arrays.name}/{name}", x, self.arrays.labels, unit_range=False,
                               test_indices=self.arrays.test_indices, val_indices=self.arrays.val_indices)
        return AutoencoderDataModule(arrays, self.batch_size, shuffle_seed=self.shuffle_seed, split=self.split,
                                     **self.split_options)

    def _device(self) -> torch.device:
        trainer = getattr(self, "trainer", None)
        return trainer.strategy.root_device if trainer is not None else torch.device("cpu")

    def resident(self, stage: str, device: torch.device | None = None) -> torch.Tensor:
        """The stored values of ``stage`` on ``device`` (the trainer's by default), copied there once."""
        device = self._device() if device is None else device
        cached = self._on_device.get(stage)
        if cached is None or cached.device != device:  # as stored: uint8 images take a quarter of float32
            cached = self.stored[getattr(self.split, stage)].to(device)
            self._on_device[stage] = cached
        return cached

    @property
    def validation_batch_size(self) -> int:
        """Up to ``VALIDATION_VALUES`` input values a batch, and never fewer samples than in training."""
        return max(self.batch_size, VALIDATION_VALUES // math.prod(self.sample_shape))

    def batches(self, stage: str, *, shuffle: bool, group: int = 1, batch_size: int | None = None,
                device: torch.device | None = None) -> TensorBatches:
        """Mini-batches of ``stage`` on ``device`` (the trainer's by default), ``group`` at a time (the fast
        path's optimizer steps per Lightning step), this process's share under data parallelism."""
        trainer = getattr(self, "trainer", None)
        rank, world = (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)
        return TensorBatches(self.resident(stage, device), batch_size or self.batch_size, shuffle=shuffle,
                             seed=self.shuffle_seed, rank=rank, world_size=world, drop_uneven=shuffle, group=group)

    def transfer_batch_to_device(self, batch, device: torch.device, dataloader_idx: int):
        """The batches are sliced on the training device already: nothing to move."""
        return batch

    def train_dataloader(self) -> TensorBatches:
        return self.batches("train", shuffle=True)

    def val_dataloader(self) -> TensorBatches:
        return self.validation_batches()

    def validation_batches(self, device: torch.device | None = None) -> TensorBatches:
        """The val split on ``device`` (the trainer's by default), in batches of ``validation_batch_size``: the
        mean over the split does not depend on how it is cut, and larger batches cost less per sample."""
        return self.batches("val", shuffle=False, batch_size=self.validation_batch_size, device=device)

    def test_dataloader(self) -> TensorBatches:
        return self.batches("test", shuffle=False)

    def numbered_test_batches(self) -> list[tuple[int, torch.Tensor]]:
        """The test split on the CPU, cut and numbered as the test loader of one process hands it to
        ``Autoencoder.test_step``: a task's fixed test corruption of batch i is drawn from i, so a task
        that scores the whole split afterwards corrupts it exactly as the test step did."""
        return list(numbered_batches(TensorBatches(self.inputs("test"), self.batch_size, shuffle=False)))

    def teardown(self, stage: str) -> None:
        self._on_device.clear()
