"""Saving a trained autoencoder and loading it back safely (``weights_only=True``: no pickled code runs)."""
from __future__ import annotations

from pathlib import Path

import torch

from aebench.models.autoencoder import Autoencoder
from aebench.models.registry import create_model

FORMAT = "aebench-autoencoder/1"


def save_autoencoder(model: Autoencoder, path: str | Path) -> None:
    """Write the architecture (registry name and options) and the weights to ``path``."""
    torch.save({"format": FORMAT, "architecture": model.architecture, "loss": model.loss_name,
                "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}}, path)


def load_autoencoder(path: str | Path) -> Autoencoder:
    """Rebuild the autoencoder saved at ``path`` from plain tensors and values only."""
    saved = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        raise ValueError(f"{path} is not an aebench autoencoder file (format {FORMAT})")
    architecture = dict(saved["architecture"])
    model = create_model(architecture.pop("name"), loss=saved["loss"], **architecture)
    model.load_state_dict(saved["state_dict"])
    return model.eval()
