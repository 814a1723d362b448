"""Greedy layer-wise pretraining of a :class:`~aebench.models.StackedAutoencoder`.

Stage l fits the module of layer l (a shallow autoencoder with the run's regularizers, or an RBM:
``model.pretrain``) on the codes of layers 1..l-1 (same split), for ``pretrain_epochs``; each
stage is one Lightning fit (``fit_stage``) whose metrics are logged under ``pretrain/layer<l>/``.
"""
from __future__ import annotations

from typing import Callable

import lightning as L

from aebench.data import AutoencoderDataModule
from aebench.data.arrays import as_float
from aebench.models import StackedAutoencoder
from aebench.ops.chunks import encode_all


def pretrain_layerwise(model: StackedAutoencoder, datamodule: AutoencoderDataModule,
                       fit_stage: Callable[[L.LightningModule, AutoencoderDataModule, int], None]) -> None:
    """``fit_stage(stage, data, index)`` trains ``model.stage(index)`` on ``data`` (the layer below's codes)."""
    inputs = as_float(datamodule.stored)  # every sample as the model sees it (uint8 images scaled)
    for index in range(model.num_stages):
        stage = model.stage(index)
        stage_data = datamodule if index == 0 else datamodule.with_inputs(inputs, f"layer{index}-codes")
        fit_stage(stage, stage_data, index)
        if index + 1 < model.num_stages:
            inputs = encode_all(stage, inputs)
    model.train()
