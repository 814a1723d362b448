"""Each member's random training inputs, drawn as its run alone draws them: one generator per member.

A run alone draws its corrupted inputs (a denoising regularizer, a task's random input) from torch's
generator of the batch's device, step after step, and nothing else in its training draws from it: its
state when training starts follows from the run's seed and model (``plan_run`` seeds, then initialises
the model). :class:`MemberDraws` keeps that state for each member, captured right after the member's
plan is built, and draws member k's inputs under its own state with its own model's task and
regularizers. So member k is given the very inputs of its run alone, whatever the other members are
and whenever they retire, and members may differ in how they corrupt (a tuned noise level).
"""
from __future__ import annotations

from typing import Sequence

import torch

from aebench.models.autoencoder import Autoencoder


def generator_state(device: torch.device) -> torch.Tensor:
    """The state of torch's generator for ``device`` (CPU or CUDA)."""
    return torch.cuda.get_rng_state(device) if device.type == "cuda" else torch.get_rng_state()


def set_generator_state(device: torch.device, state: torch.Tensor) -> None:
    if device.type == "cuda":
        torch.cuda.set_rng_state(state, device)
    else:
        torch.set_rng_state(state)


def states_after_planning() -> dict[str, torch.Tensor]:
    """What a member's run alone starts training with: the generators' states now, for the CPU and, where
    there is one, the current CUDA device (the run's device is chosen later by its trainer)."""
    states = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state()
    return states


class MemberDraws:
    """Training inputs (K, B, ...) of the active members, each drawn under its own generator state."""

    def __init__(self, models: Sequence[Autoencoder], states: Sequence[dict[str, torch.Tensor]]):
        self.models = list(models)
        self.states = [dict(state) for state in states]

    def inputs(self, xs: torch.Tensor, members: Sequence[int]) -> torch.Tensor:
        """Member ``members[k]``'s training input of its batch ``xs[k]``: its task's training input, then
        each of its regularizers' corruption, as ``Autoencoder.loss_terms`` draws them alone."""
        device = xs.device
        kind = "cuda" if device.type == "cuda" else "cpu"
        outer = generator_state(device)
        drawn = []
        try:
            for row, member in enumerate(members):
                set_generator_state(device, self.states[member][kind])
                model = self.models[member]
                inputs = model.task.training_input(xs[row])
                for regularizer in model.regularizers:
                    inputs = regularizer.corrupt(inputs)
                drawn.append(inputs)
                self.states[member][kind] = generator_state(device)
        finally:
            set_generator_state(device, outer)  # the process's own draws go on as if none were taken here
        return torch.stack(drawn)
