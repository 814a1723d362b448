"""Fully connected autoencoders: linear, undercomplete, overcomplete and deep.

Every one flattens its input, so it also takes images; the decoder restores the shape.
"""
from __future__ import annotations

import math
from typing import Sequence

from torch import nn

from aebench.errors import require, require_int, require_widths
from aebench.models.autoencoder import Autoencoder
from aebench.models.layers import AUTO, TiedLinear, hidden_widths
from aebench.models.registry import register_model
from aebench.ops.activations import make_activation, require_activation


def _mlp_autoencoder(input_shape: Sequence[int], code_dim: int, encoder_dims: Sequence[int],
                     decoder_dims: Sequence[int], activation: str, code_activation: str,
                     tied_weights: bool, architecture: dict, **training) -> Autoencoder:
    """Encoder input -> encoder_dims... -> code; decoder code -> decoder_dims... -> input."""
    input_shape = tuple(input_shape)
    output_shape = tuple(training.get("output_shape") or input_shape)
    input_dim = math.prod(input_shape)
    require(not tied_weights or output_shape == input_shape, "tied_weights", tied_weights,
            f"false when the output {output_shape} differs from the input {input_shape}")
    encoder_widths = [input_dim, *encoder_dims, code_dim]
    decoder_widths = [code_dim, *decoder_dims, math.prod(output_shape)]
    encoder_linears = [nn.Linear(a, b) for a, b in zip(encoder_widths, encoder_widths[1:])]
    if tied_weights:
        decoder_linears = [TiedLinear(layer) for layer in reversed(encoder_linears)]
    else:
        decoder_linears = [nn.Linear(a, b) for a, b in zip(decoder_widths, decoder_widths[1:])]

    encoder = [nn.Flatten()]
    for index, layer in enumerate(encoder_linears):
        is_code = index == len(encoder_linears) - 1
        encoder += [layer, make_activation(code_activation if is_code else activation)]
    decoder = []
    for index, layer in enumerate(decoder_linears):
        decoder.append(layer)
        if index < len(decoder_linears) - 1:
            decoder.append(make_activation(activation))
    decoder.append(nn.Unflatten(1, output_shape))
    return Autoencoder(nn.Sequential(*encoder), nn.Sequential(*decoder), architecture=architecture,
                       input_shape=input_shape, code_dim=code_dim, code_activation=code_activation, **training)


def _architecture(name: str, **kwargs) -> dict:
    return {"name": name, **{k: (list(v) if isinstance(v, tuple) else v) for k, v in kwargs.items()}}


@register_model
def linear(input_shape: Sequence[int], code_dim: int = 16, tied_weights: bool = True, **training) -> Autoencoder:
    """Affine encoder and decoder: trained with MSE it spans the top-``code_dim`` principal subspace
    (Baldi & Hornik 1989), so its error matches PCA's.

    Tied (the default), the encoder's weight starts with orthonormal rows (Saxe et al. 2014): the
    decoder ``W^T W x`` is then a projection from the first step, as PCA's is, and training only turns
    its subspace. From the default small uniform start, and untied from any start, directions of
    small variance are learned at a rate set by that variance: on synthetic_lowrank (signal
    variance 10^4 times the noise's) such runs stop 7 % (tied) and 33 % (untied) above PCA's test
    error, the orthonormal tied start within 3 % over seeds 0-2 (BENCHMARKS.md, "The linear autoencoder and
    PCA")."""
    input_dim = math.prod(input_shape)
    require_int("code_dim", code_dim, minimum=1, maximum=input_dim)
    arch = _architecture("linear", input_shape=input_shape, code_dim=code_dim, tied_weights=tied_weights)
    model = _mlp_autoencoder(input_shape, code_dim, [], [], "identity", "identity", tied_weights,
                             arch, **training)
    if tied_weights:
        nn.init.orthogonal_(next(layer for layer in model.encoder if isinstance(layer, nn.Linear)).weight)
    return model


def _one_layer(name: str, input_shape: Sequence[int], code_dim: int, smallest: int, largest: int | None,
               activation: str, tied_weights: bool, training: dict) -> Autoencoder:
    require_int("code_dim", code_dim, minimum=smallest, maximum=largest)
    require_activation("activation", activation)
    arch = _architecture(name, input_shape=input_shape, code_dim=code_dim, activation=activation,
                         tied_weights=tied_weights)
    return _mlp_autoencoder(input_shape, code_dim, [], [], activation, activation, tied_weights, arch, **training)


@register_model(code_activation="activation")
def undercomplete(input_shape: Sequence[int], code_dim: int = 16, activation: str = "sigmoid",
                  tied_weights: bool = False, **training) -> Autoencoder:
    """One nonlinear code layer narrower than the input: h = act(W x + b), x_hat = W' h + b'."""
    input_dim = math.prod(input_shape)
    return _one_layer("undercomplete", input_shape, code_dim, 1, input_dim - 1, activation, tied_weights, training)


@register_model(code_activation="activation", code_larger_than_input=True)
def overcomplete(input_shape: Sequence[int], code_dim: int | None = None, activation: str = "sigmoid",
                 tied_weights: bool = False, **training) -> Autoencoder:
    """One code layer at least as wide as the input (``None``: twice as wide): able to copy,
    useful once regularized."""
    input_dim = math.prod(input_shape)
    code_dim = 2 * input_dim if code_dim is None else code_dim
    return _one_layer("overcomplete", input_shape, code_dim, input_dim, None, activation, tied_weights, training)


@register_model(code_activation="code_activation")
def deep(input_shape: Sequence[int], code_dim: int = 16, hidden_dims: Sequence[int] | str = AUTO,
         decoder_dims: Sequence[int] | None = None, activation: str = "elu", code_activation: str = "sigmoid",
         tied_weights: bool = False, **training) -> Autoencoder:
    """Hidden layers of ``hidden_dims`` before the code; the decoder mirrors them unless
    ``decoder_dims`` (code side first) says otherwise."""
    require_int("code_dim", code_dim, minimum=1)
    require_activation("activation", activation)
    require_activation("code_activation", code_activation)
    hidden_dims = hidden_widths(hidden_dims, math.prod(input_shape), code_dim)
    mirrored = list(reversed(hidden_dims))
    decoder_dims = mirrored if decoder_dims is None else require_widths("decoder_dims", decoder_dims)
    require(not tied_weights or decoder_dims == mirrored, "tied_weights", tied_weights,
            f"false when decoder_dims={decoder_dims} does not mirror hidden_dims={list(hidden_dims)}"
            " (tied decoder weights are the encoder's transposed)")
    arch = _architecture("deep", input_shape=input_shape, code_dim=code_dim, hidden_dims=list(hidden_dims),
                         decoder_dims=decoder_dims, activation=activation, code_activation=code_activation,
                         tied_weights=tied_weights)
    return _mlp_autoencoder(input_shape, code_dim, list(hidden_dims), decoder_dims, activation,
                            code_activation, tied_weights, arch, **training)
