"""Codes of whole datasets, computed in chunks without gradients."""
from __future__ import annotations

import torch

CHUNK = 4096


@torch.no_grad()
def encode_all(encoder: torch.nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """``encoder(inputs)`` on the encoder's device, returned on the CPU as float32."""
    was_training = encoder.training
    encoder.eval()
    device = next(encoder.parameters()).device
    codes = torch.cat([encoder(chunk.to(device)).float().cpu() for chunk in inputs.split(CHUNK)])
    encoder.train(was_training)
    return codes
