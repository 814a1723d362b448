"""Convolutional autoencoder for images of any height and width, 8x8 digits included.

Encoder: one stride-2 convolution per entry of ``channels``, then a dense code layer.
Decoder: a dense layer back to the smallest feature map, then stride-2 transposed
convolutions whose output padding is chosen per layer so each map regains its exact size.
"""
from __future__ import annotations

from typing import Sequence

from torch import nn

from aebench.errors import require, require_int, require_widths
from aebench.models.autoencoder import Autoencoder
from aebench.models.registry import register_model
from aebench.needs import Facts, Need, check_needs
from aebench.ops.activations import make_activation, require_activation

STRIDE = 2
CONV_NEEDS = (Need("conv needs images", lambda f: f.images, "model", lambda f: f.model,
                   lambda f: "model=conv needs images shaped (channels, height, width); "
                             f"{f.data} gives vectors shaped {f.sample_shape}"),)


def _downsampled(size: int, kernel_size: int) -> int:
    """Output size of a stride-2 convolution with padding kernel_size // 2."""
    return (size + 2 * (kernel_size // 2) - kernel_size) // STRIDE + 1


def _upsampled(size: int, kernel_size: int) -> int:
    """Output size of the matching transposed convolution, before output padding."""
    return (size - 1) * STRIDE - 2 * (kernel_size // 2) + kernel_size


@register_model(code_activation="code_activation", needs=CONV_NEEDS)
def conv(input_shape: Sequence[int], code_dim: int = 16, channels: Sequence[int] = (16, 32),
         kernel_size: int = 3, activation: str = "relu", code_activation: str = "sigmoid",
         tied_weights: bool = False, **training) -> Autoencoder:
    """A convolutional autoencoder for samples shaped (channels, height, width)."""
    input_shape = tuple(input_shape)
    check_needs(CONV_NEEDS, Facts(input_shape, model="conv"))
    require_int("code_dim", code_dim, minimum=1)
    require_widths("channels", channels)
    require_activation("activation", activation)
    require_activation("code_activation", code_activation)
    require_int("kernel_size", kernel_size, minimum=1)
    require(kernel_size % 2 == 1, "kernel_size", kernel_size, "an odd integer (1, 3, 5, ...)")
    require(not tied_weights, "tied_weights", tied_weights, "false for model=conv (transposed convolutions "
            "are not tied to the encoder's)")

    in_channels, height, width = input_shape
    output_shape = tuple(training.get("output_shape") or input_shape)
    require(len(output_shape) == 3 and output_shape[1:] == input_shape[1:], "output_shape", output_shape,
            f"images of the input's size {input_shape[1:]} (any number of channels)")
    out_channels = output_shape[0]
    padding = kernel_size // 2
    sizes = [(height, width)]
    encoder: list[nn.Module] = []
    for c_in, c_out in zip([in_channels, *channels], channels):
        encoder += [nn.Conv2d(c_in, c_out, kernel_size, stride=STRIDE, padding=padding), make_activation(activation)]
        h, w = sizes[-1]
        sizes.append((_downsampled(h, kernel_size), _downsampled(w, kernel_size)))
    bottom_h, bottom_w = sizes[-1]
    flat = channels[-1] * bottom_h * bottom_w
    encoder += [nn.Flatten(), nn.Linear(flat, code_dim), make_activation(code_activation)]

    decoder: list[nn.Module] = [nn.Linear(code_dim, flat), make_activation(activation),
                                nn.Unflatten(1, (channels[-1], bottom_h, bottom_w))]
    reversed_channels = [*reversed(channels), out_channels]
    for index, (c_in, c_out) in enumerate(zip(reversed_channels, reversed_channels[1:])):
        (h_in, w_in), (h_out, w_out) = sizes[-1 - index], sizes[-2 - index]
        output_padding = (h_out - _upsampled(h_in, kernel_size), w_out - _upsampled(w_in, kernel_size))
        decoder.append(nn.ConvTranspose2d(c_in, c_out, kernel_size, stride=STRIDE, padding=padding,
                                          output_padding=output_padding))
        if index < len(channels) - 1:  # the last layer gives the output (or its logits) unbounded
            decoder.append(make_activation(activation))
    architecture = {"name": "conv", "input_shape": list(input_shape), "code_dim": code_dim,
                    "channels": list(channels), "kernel_size": kernel_size, "activation": activation,
                    "code_activation": code_activation, "tied_weights": False}
    return Autoencoder(nn.Sequential(*encoder), nn.Sequential(*decoder), architecture=architecture,
                       input_shape=input_shape, code_dim=code_dim, code_activation=code_activation,
                       **training)
