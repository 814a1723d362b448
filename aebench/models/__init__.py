"""Autoencoder variants: ``create_model(name, input_shape=..., ...)`` or the builder by name.

>>> from aebench.models import undercomplete
>>> model = undercomplete(input_shape=(64,), code_dim=8)   # a LightningModule
"""
from aebench.models.autoencoder import Autoencoder
from aebench.models.checkpoint import load_autoencoder, save_autoencoder
from aebench.models.conv import conv
from aebench.models.mlp import deep, linear, overcomplete, undercomplete
from aebench.models.registry import create_model, list_models, register_model
from aebench.models.stacked import StackedAutoencoder, stacked
from aebench.models.vae import vae

__all__ = ["Autoencoder", "conv", "create_model", "deep", "linear", "list_models", "load_autoencoder",
           "overcomplete", "register_model", "save_autoencoder", "stacked", "StackedAutoencoder", "undercomplete", "vae"]
