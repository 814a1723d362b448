"""Whole datasets through a model, in chunks on the model's device, without gradients."""
from __future__ import annotations

from typing import Callable

import torch

CHUNK = 4096


def device_of(module: torch.nn.Module) -> torch.device:
    return next(module.parameters()).device


@torch.no_grad()
def apply_in_chunks(function: Callable[..., torch.Tensor], *tensors: torch.Tensor,
                    device: torch.device) -> torch.Tensor:
    """``function(*chunks)`` over aligned chunks of ``tensors`` moved to ``device``, concatenated on the
    CPU as float32."""
    outputs = [function(*(t[start:start + CHUNK].to(device) for t in tensors)).float().cpu()
               for start in range(0, tensors[0].shape[0], CHUNK)]
    return torch.cat(outputs)


def encode_all(model: torch.nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """The codes of ``inputs`` (``model.code_of``) on the model's device, in eval mode, returned on
    the CPU as float32."""
    was_training = model.training
    model.eval()
    codes = apply_in_chunks(model.code_of, inputs, device=device_of(model))
    model.train(was_training)
    return codes
