"""Each member's random training inputs, drawn as its run alone draws them: one generator per member.

A run alone draws its corrupted inputs (a denoising regularizer, a task's random input) from torch's
generator of the batch's device, step after step, and nothing else in its training draws from it: its
state when training starts follows from the run's seed and model (``plan_run`` seeds every device's
generator, then initialises the model on the CPU). :class:`MemberDraws` keeps that state for each
member: the CPU's captured right after the member's plan is built, an accelerator's (CUDA, MPS) seeded
with the member's seed when its first batch arrives there. It draws member k's inputs under its own
state with its own model's task and regularizers, so member k is given the very inputs of its run
alone, whatever the other members are and whenever they retire, and members may differ in how they
corrupt (a tuned noise level).
"""
from __future__ import annotations

from typing import Sequence

import torch

from aebench.models.autoencoder import Autoencoder

DEVICES = ("cpu", "cuda", "mps")  # whose generators a member's state can be kept for


def generator_state(device: torch.device) -> torch.Tensor:
    """The state of torch's generator for ``device``."""
    if device.type == "cuda":
        return torch.cuda.get_rng_state(device)
    if device.type == "mps":
        return torch.mps.get_rng_state()
    return torch.get_rng_state()


def set_generator_state(device: torch.device, state: torch.Tensor) -> None:
    if device.type == "cuda":
        torch.cuda.set_rng_state(state, device)
    elif device.type == "mps":
        torch.mps.set_rng_state(state)
    else:
        torch.set_rng_state(state)


def seeded_state(device: torch.device, seed: int) -> torch.Tensor:
    """The state of ``device``'s generator just after seeding it with ``seed`` (as ``seed_everything`` does)."""
    outer = generator_state(device)
    if device.type == "cuda":
        with torch.cuda.device(device):
            torch.cuda.manual_seed(seed)
    else:
        torch.mps.manual_seed(seed)
    state = generator_state(device)
    set_generator_state(device, outer)
    return state


def states_after_planning(seed: int) -> dict:
    """What a member's run alone starts training with, taken right after its ``plan_run``: the CPU
    generator's state now, and the seed an accelerator's generator was seeded with (read when a batch
    first arrives there, so planning starts no accelerator)."""
    return {"cpu": torch.get_rng_state(), "seed": seed}


class MemberDraws:
    """Training inputs (K, B, ...) of the active members, each drawn under its own generator state."""

    def __init__(self, models: Sequence[Autoencoder], states: Sequence[dict]):
        self.models = list(models)
        self.states = [dict(state) for state in states]

    def inputs(self, xs: torch.Tensor, members: Sequence[int]) -> torch.Tensor:
        """Member ``members[k]``'s training input of its batch ``xs[k]``: its task's training input, then
        each of its regularizers' corruption, as ``Autoencoder.loss_terms`` draws them alone."""
        device = xs.device
        if device.type not in DEVICES:
            raise ValueError(f"members draw their random inputs on {', '.join(DEVICES)}, not on {device.type}")
        outer = generator_state(device)
        drawn = []
        try:
            for row, member in enumerate(members):
                state = self.states[member]
                if device.type not in state:
                    state[device.type] = seeded_state(device, state["seed"])
                set_generator_state(device, state[device.type])
                model = self.models[member]
                inputs = model.task.training_input(xs[row])
                for regularizer in model.regularizers:
                    inputs = regularizer.corrupt(inputs)
                drawn.append(inputs)
                state[device.type] = generator_state(device)
        finally:
            set_generator_state(device, outer)  # the process's own draws go on as if none were taken here
        return torch.stack(drawn)
