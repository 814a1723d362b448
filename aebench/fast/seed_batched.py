"""K seeds of a fully connected autoencoder as batched matrix products, without ``vmap``.

Seed k's parameters are the k-th slices of stacked tensors (K, ...), its inputs the k-th slice of
(K, B, ...). Stacked in the layout the products take (``to_batched``): a weight matrix as W^T
(K, in, out) and a bias as (K, 1, out), so that a linear layer is one ``torch.baddbmm`` (bias + x W^T
for every seed at once) with no transposing or reshaping view in the autograd graph; a tied layer
is one ``baddbmm`` with the encoder's matrix transposed back, an activation acts elementwise on
the whole stack, and Flatten / Unflatten move the sample axes one place right. So a step runs
the operators of one seed alone, each K times larger: ``vmap`` over ``functional_call`` adds
about 0.4 ms of dispatch a step instead (BENCHMARKS.md). Seed k's loss terms equal its own
model's to float rounding (tests/test_ensemble.py).

Models with other layers (convolutions) or another bottleneck, subclasses with their own loss, and
regularizers without a seed-batched penalty (``aebench.fast.seed_penalties``; the contractive
penalty of deeper encoders) keep the ``vmap`` path of :class:`aebench.fast.seeds.SeedEnsemble`.
"""
from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import torch
from torch import nn

from aebench.fast.seed_penalties import seed_penalty
from aebench.models.autoencoder import Autoencoder
from aebench.models.bottleneck import IdentityBottleneck
from aebench.models.layers import TiedLinear, reconstruction_loss
from aebench.ops.activations import ACTIVATIONS
from aebench.tasks.base import trains_on_clean_inputs

ELEMENTWISE = tuple(set(ACTIVATIONS.values()))
Step = tuple  # ("linear", weight index, bias index | None) and the like: see SeedBatchedAutoencoder.plan


def seed_means(values: torch.Tensor) -> torch.Tensor:
    """(K,): each seed's mean over its values (K, B, ...)."""
    return values.flatten(1).mean(1)


class SeedStepLoss(NamedTuple):
    """One step's loss of K stacked seeds, kept in the form backward takes with the fewest operators."""

    values: torch.Tensor  # the reconstruction loss of each value (K, B, ...)
    penalties: list[torch.Tensor]  # (K,) per penalty

    def terms(self) -> list[torch.Tensor]:
        """[(K,) per term]: each seed's reconstruction loss (the mean of its values, outside the graph), then
        each penalty."""
        return [seed_means(self.values.detach()), *self.penalties]

    def roots(self, scales: torch.Tensor | None = None) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """(tensors, their gradients): backward from these is backward from the sum over seeds of every term.
        Each value's gradient is 1/n, n the values of one seed, so the reduction to per-seed means (a sum, a
        division, a sum over seeds: three more nodes each way, about 30 us a step) stays out of the graph.
        ``scales`` (K, penalties): each member's penalty gradient, where members weigh their penalties apart."""
        values = self.values
        mean_gradient = values.new_full((1,) * values.ndim, 1 / math.prod(values.shape[1:])).expand_as(values)
        penalties = [p.new_ones(()).expand_as(p) if scales is None else scales[:, j].to(p.dtype)
                     for j, p in enumerate(self.penalties)]
        return [values, *self.penalties], [mean_gradient, *penalties]


class SeedBatchedAutoencoder:
    """Loss terms of K stacked copies of ``model`` (parameters in the order of ``names``)."""

    def __init__(self, model: nn.Module, names: Sequence[str]):
        self.model = model
        self.position = {name: index for index, name in enumerate(names)}
        name_of = {id(parameter): name for name, parameter in model.named_parameters()}
        self.encoder_steps = self.plan(model.encoder, "encoder", name_of)
        self.decoder_steps = self.plan(model.decoder, "decoder", name_of)
        self.weight_positions = {name: self.position[name] for name, p in model.named_parameters() if p.ndim >= 2}
        self.penalties = [(r, seed_penalty(r)) for r in model.regularizers if r.has_penalty]
        # the encoder takes the clean batch itself: no reshaping to (K B, ...) and back for the task to transform it
        self.clean_inputs = trains_on_clean_inputs(model.task, model.regularizers)

    def to_batched(self, name: str, stacked: torch.Tensor) -> torch.Tensor:
        """A parameter stacked over seeds (K, *its shape) in the products' layout: W^T (K, in, out) for
        a weight matrix, (K, 1, out) for a bias."""
        if name in self.weight_positions:
            return stacked.transpose(1, 2).contiguous()
        return stacked.unsqueeze(1)

    def to_model(self, name: str, batched: torch.Tensor) -> torch.Tensor:
        """The inverse of ``to_batched``: (K, *the model's parameter shape)."""
        return batched.transpose(1, 2) if name in self.weight_positions else batched.squeeze(1)

    @staticmethod
    def supports(model: Autoencoder) -> bool:
        """Only the loss of ``Autoencoder`` itself (a subclass's own ``loss_terms`` is honoured by vmap), the
        identity bottleneck, linear, tied, flatten and elementwise layers, and penalties with a batched form."""
        if type(model).loss_terms is not Autoencoder.loss_terms or not isinstance(model.bottleneck, IdentityBottleneck):
            return False
        if model.task.masks_loss:  # its batched loss counts every value
            return False
        layers = [*model.encoder.children(), *model.decoder.children()]
        known = all(isinstance(layer, (nn.Linear, TiedLinear, nn.Flatten, nn.Unflatten, *ELEMENTWISE))
                    for layer in layers)
        penalties = all(not r.has_penalty or (seed_penalty(r) is not None and not r.needs_input_grad)
                        for r in model.regularizers)
        return known and penalties

    def plan(self, sequential: nn.Sequential, prefix: str, name_of: dict[int, str]) -> list[Step]:
        steps: list[Step] = []
        for index, layer in enumerate(sequential.children()):
            own = f"{prefix}.{index}"
            if isinstance(layer, nn.Linear):
                bias = None if layer.bias is None else self.position[f"{own}.bias"]
                steps.append(("linear", self.position[f"{own}.weight"], bias))
            elif isinstance(layer, TiedLinear):
                steps.append(("tied", self.position[name_of[id(layer.encoder_layer.weight)]],
                              self.position[f"{own}.bias"]))
            elif isinstance(layer, nn.Flatten):
                end = layer.end_dim if layer.end_dim < 0 else layer.end_dim + 1
                steps.append(("flatten", layer.start_dim + 1, end))
            elif isinstance(layer, nn.Unflatten):
                steps.append(("unflatten", layer.dim + 1, tuple(layer.unflattened_size)))
            else:
                steps.append(("elementwise", layer))
        return steps

    @staticmethod
    def run(steps: list[Step], params: Sequence[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        """The layers of ``steps`` on x (K, B, ...), with ``params`` in the layout of ``to_batched``."""
        for step in steps:
            kind = step[0]
            if kind == "linear":  # x W^T + b
                weight = params[step[1]]
                x = torch.bmm(x, weight) if step[2] is None else torch.baddbmm(params[step[2]], x, weight)
            elif kind == "tied":  # F.linear(x, W.t()) = x W, with the encoder's W^T stored
                x = torch.baddbmm(params[step[2]], x, params[step[1]].transpose(1, 2))
            elif kind == "flatten":
                x = x.flatten(step[1], step[2])
            elif kind == "unflatten":  # as x.unflatten(dim, sizes), without its Python wrapper
                x = x.view(x.shape[:step[1]] + step[2] + x.shape[step[1] + 1:])
            else:
                x = step[1](x)
        return x

    def encode(self, params: Sequence[torch.Tensor], inputs: torch.Tensor) -> torch.Tensor:
        """(K, B, code) from inputs (K, B, ...)."""
        return self.run(self.encoder_steps, params, inputs)

    def step_loss(self, params: Sequence[torch.Tensor], xs: torch.Tensor,
                  inputs: torch.Tensor | None = None) -> SeedStepLoss:
        """The terms of ``Autoencoder.loss_terms`` for each seed's batch ``xs[k]``, from the training inputs
        ``inputs`` (K, B, ...) where given (``aebench.fast.member_draws``), else with fresh corruption drawn
        for all seeds at once; ``params`` in the layout of ``to_batched``."""
        model = self.model
        if inputs is None:
            inputs = xs
        if inputs is xs and not self.clean_inputs:
            inputs = model.task.training_input(xs.flatten(0, 1))
            for regularizer in model.regularizers:
                inputs = regularizer.corrupt(inputs)
            inputs = inputs.reshape(xs.shape[:2] + inputs.shape[1:])
        code = self.encode(params, inputs)
        values = reconstruction_loss(model.loss_name, self.run(self.decoder_steps, params, code), xs, reduction="none")
        penalties = []
        if self.penalties:  # penalties take the model's layout (K, out, in)
            weights = {name: params[position].transpose(1, 2) for name, position in self.weight_positions.items()}
            penalties = [batched(regularizer, weights, inputs, code) for regularizer, batched in self.penalties]
        return SeedStepLoss(values, penalties)

    def validation_loss(self, params: Sequence[torch.Tensor], inputs: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """(K,): each seed's reconstruction loss of ``x`` (B, ...) from the shared task input ``inputs``."""
        count = params[0].shape[0]
        code = self.encode(params, inputs.unsqueeze(0).expand(count, *inputs.shape))
        output = self.run(self.decoder_steps, params, code)
        target = x.unsqueeze(0).expand_as(output)
        return seed_means(reconstruction_loss(self.model.loss_name, output, target, reduction="none"))
