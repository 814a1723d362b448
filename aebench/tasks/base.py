"""What a task is: what the autoencoder sees, what it must produce, and what is measured after.

The default task, :class:`Reconstruct`, gives the model its input and asks for it back. Other
tasks (``aebench.tasks``) transform the input the model sees (grey, noisy, masked, watermarked)
while the target stays the clean sample, or change which samples it trains on (anomaly), and
add their own test metrics and artifacts.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from aebench.evaluate.scoring import seeded_generator
from aebench.needs import DATA_KINDS, Need, task_needs_data

if TYPE_CHECKING:
    from aebench.data import AutoencoderDataModule

NEEDS = tuple(DATA_KINDS)  # what a task may need of its data (``Task.data_needs``)
TEST_SEED = 4242  # fixed test-time transformations: every model sees the same corrupted test inputs


def seeded(x: torch.Tensor, index: int) -> torch.Generator:
    """A generator for test batch ``index``, on the batch's device, the same for every run."""
    return seeded_generator(x, TEST_SEED + index)


class Task:
    name = "reconstruct"
    data_needs: tuple[str, ...] = ()  # kinds of data it needs (NEEDS: images, colour, labels, unit_range)
    # the metric its leaderboard is ranked by: the first of these a run logged
    primary_metrics: tuple[str, ...] = ("test/psnr", "test/mse")
    # the task's own metrics (names or prefixes), printed after a run beside MSE, PSNR and SSIM
    headline: tuple[str, ...] = ()

    def needs(self) -> tuple[Need, ...]:
        """What it needs of the data and the model (``aebench.needs``), checked by the rule table
        before a run is built: its ``data_needs``, and what a task adds by overriding this."""
        return tuple(task_needs_data(kind) for kind in self.data_needs)

    @property
    def keeps_input(self) -> bool:
        """In training the encoder is given the sample itself (neither input method is overridden)."""
        return type(self).training_input is Task.training_input and type(self).clean_input is Task.clean_input

    def model_input_shape(self, sample_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The shape the encoder takes (the decoder always gives the sample's shape)."""
        return sample_shape

    def prepare(self, datamodule: "AutoencoderDataModule") -> "AutoencoderDataModule":
        """The data to train on (the anomaly task leaves a class out)."""
        return datamodule

    def clean_input(self, x: torch.Tensor) -> torch.Tensor:
        """What the encoder is given for a sample, without random corruption (probes, code maps)."""
        return x

    def training_input(self, x: torch.Tensor) -> torch.Tensor:
        """What the encoder is given in training: freshly random at every step."""
        return self.clean_input(x)

    def test_input(self, x: torch.Tensor, batch_index: int) -> torch.Tensor:
        """What the encoder is given for test batch ``batch_index``: the same in every run."""
        return self.clean_input(x)

    def training_mask(self, x: torch.Tensor) -> torch.Tensor | None:
        """The values of ``x`` the training loss counts (None: all): a rating matrix counts the rated ones."""
        return None

    def scoring_mask(self, inputs: torch.Tensor, x: torch.Tensor) -> torch.Tensor | None:
        """The values of ``x`` that ``val/loss`` scores when the encoder was given ``inputs`` (None: all)."""
        return None

    @property
    def masks_loss(self) -> bool:
        """Its losses count only some values (either mask method is overridden)."""
        return type(self).training_mask is not Task.training_mask or type(self).scoring_mask is not Task.scoring_mask

    def evaluate(self, model: Any, datamodule: "AutoencoderDataModule") -> tuple[dict[str, float], dict[str, bytes]]:
        """Task metrics (``test/...``) and artifacts (file name -> bytes), after the standard test."""
        return {}, {}


class Reconstruct(Task):
    """The plain autoencoder: reconstruct the input (every standard metric is this task's)."""


def trains_on_clean_inputs(task: "Task", regularizers) -> bool:
    """Whether training feeds the encoder its batches as they are: no task transformation and no
    corrupting regularizer (denoising), so no random draws stand between data and model."""
    return task.keeps_input and not any(regularizer.corrupts for regularizer in regularizers)
