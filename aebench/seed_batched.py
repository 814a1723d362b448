"""K seeds of a fully connected autoencoder as batched matrix products, without ``vmap``.

Seed k's parameters are the k-th slices of stacked tensors (K, ...), its inputs the k-th slice of
(K, B, ...). A linear layer is one ``torch.baddbmm`` (bias + x W^T for every seed at once), a tied
layer one ``baddbmm`` with the encoder's matrix untransposed, an activation acts elementwise on
the whole stack, and Flatten / Unflatten move the sample axes one place right. So a step runs
the operators of one seed alone, each K times larger: ``vmap`` over ``functional_call`` adds
about 0.4 ms of dispatch a step instead (BENCHMARKS.md). Seed k's loss terms equal its own
model's to float rounding (tests/test_ensemble.py).

Models with other layers (convolutions) and regularizers without a seed-batched penalty (the
contractive penalty of deeper encoders) keep the ``vmap`` path of :class:`aebench.ensemble.SeedEnsemble`.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from aebench.activations import ACTIVATIONS
from aebench.models.layers import TiedLinear

ELEMENTWISE = tuple(set(ACTIVATIONS.values()))
Step = tuple  # ("linear", weight index, bias index | None) and the like: see SeedBatchedAutoencoder.plan


def per_seed_reconstruction_loss(name: str, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(K,): each seed's mean over its batch and values (``aebench.models.layers.reconstruction_loss``)."""
    if name == "mse":
        values = (output - target).pow(2)
    elif name == "l1":
        values = (output - target).abs()
    else:
        values = F.binary_cross_entropy_with_logits(output, target, reduction="none")
    return values.flatten(1).mean(1)


class SeedBatchedAutoencoder:
    """Loss terms of K stacked copies of ``model`` (parameters in the order of ``names``)."""

    def __init__(self, model: nn.Module, names: Sequence[str]):
        self.model = model
        self.position = {name: index for index, name in enumerate(names)}
        name_of = {id(parameter): name for name, parameter in model.named_parameters()}
        self.encoder_steps = self.plan(model.encoder, "encoder", name_of)
        self.decoder_steps = self.plan(model.decoder, "decoder", name_of)
        self.weight_positions = {name: self.position[name] for name, p in model.named_parameters() if p.ndim >= 2}

    @staticmethod
    def supports(model: nn.Module) -> bool:
        """Only linear, tied, flatten and elementwise layers, and regularizers with seed-batched penalties."""
        layers = [*model.encoder.children(), *model.decoder.children()]
        known = all(isinstance(layer, (nn.Linear, TiedLinear, nn.Flatten, nn.Unflatten, *ELEMENTWISE))
                    for layer in layers)
        penalties = all(r.seed_batched and not r.needs_input_grad for r in model.regularizers)
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
        for step in steps:
            kind = step[0]
            if kind == "linear":
                weight = params[step[1]].transpose(1, 2)  # (K, in, out)
                x = torch.bmm(x, weight) if step[2] is None else torch.baddbmm(params[step[2]].unsqueeze(1), x, weight)
            elif kind == "tied":  # F.linear(x, W.t()) = x W
                x = torch.baddbmm(params[step[2]].unsqueeze(1), x, params[step[1]])
            elif kind == "flatten":
                x = x.flatten(step[1], step[2])
            elif kind == "unflatten":
                x = x.unflatten(step[1], step[2])
            else:
                x = step[1](x)
        return x

    def encode(self, params: Sequence[torch.Tensor], inputs: torch.Tensor) -> torch.Tensor:
        """(K, B, code) from inputs (K, B, ...): a leading batch axis is flattened for the matrix products."""
        return self.run(self.encoder_steps, params, inputs)

    def loss_terms(self, params: Sequence[torch.Tensor], xs: torch.Tensor) -> torch.Tensor:
        """(K, terms): as ``Autoencoder.loss_terms`` for each seed's batch ``xs[k]``, fresh corruption per seed."""
        model, (count, batch) = self.model, xs.shape[:2]
        inputs = model.task.training_input(xs.flatten(0, 1))
        for regularizer in model.regularizers:
            inputs = regularizer.corrupt(inputs)
        inputs = inputs.unflatten(0, (count, batch))
        code = self.encode(params, inputs)
        terms = [per_seed_reconstruction_loss(model.loss_name, self.run(self.decoder_steps, params, code), xs)]
        weights = {name: params[position] for name, position in self.weight_positions.items()}
        for regularizer in model.regularizers:
            if regularizer.has_penalty:
                terms.append(regularizer.seed_penalty(weights, inputs, code))
        return torch.stack(terms, dim=1)

    def validation_loss(self, params: Sequence[torch.Tensor], inputs: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """(K,): each seed's reconstruction loss of ``x`` (B, ...) from the shared task input ``inputs``."""
        count = params[0].shape[0]
        code = self.encode(params, inputs.unsqueeze(0).expand(count, *inputs.shape))
        output = self.run(self.decoder_steps, params, code)
        return per_seed_reconstruction_loss(self.model.loss_name, output, x.unsqueeze(0).expand_as(output))
