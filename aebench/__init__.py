"""aebench: a benchmarking suite for autoencoders on PyTorch Lightning, Hydra, MLflow and torchmetrics."""
from aebench.version import __version__

__all__ = ["__version__"]
