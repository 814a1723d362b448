"""Stacked autoencoder: a deep autoencoder trained greedily, one layer at a time, then fine-tuned.

``pretrain`` chooses how layer l is first trained, on the codes h_{l-1} of the (already trained)
layers below:

- ``autoencoder``: as a shallow autoencoder of its own, h_l = s(W_l h_{l-1} + b_l) decoded by W'_l
  back to h_{l-1}, with the run's regularizers (Bengio, Lamblin, Popovici & Larochelle 2007;
  stacked denoising autoencoders: Vincent et al. 2010);
- ``rbm``: as a restricted Boltzmann machine trained by contrastive divergence, then unrolled into
  the encoder layer and its mirror in the decoder (Hinton & Salakhutdinov 2006; ``aebench.models.rbm``);
  the run's regularizers act in fine-tuning only;
- ``none``: not at all, so the same deep net trains from random weights (what pretraining buys).

Each stage shares its modules with the deep model, so end-to-end fine-tuning starts from exactly
the pretrained weights. The layer-wise loop itself runs in ``aebench.run.pretrain``.
"""
from __future__ import annotations

import copy
import math
from dataclasses import replace
from typing import Any, Mapping, Sequence

from torch import nn

from aebench.errors import require, require_choice, require_int
from aebench.models.autoencoder import Autoencoder
from aebench.models.layers import AUTO, TiedLinear, hidden_widths
from aebench.models.rbm import RBM
from aebench.models.registry import register_model
from aebench.needs import Facts, Need, check_needs
from aebench.ops.activations import make_activation, require_activation

PRETRAINING = ("autoencoder", "rbm", "none")


def _pretrains(facts: Facts) -> bool:
    return facts.option("pretrain", "autoencoder") != "none" and facts.option("pretrain_epochs", 1) > 0


def _rbm(facts: Facts) -> bool:
    return _pretrains(facts) and facts.option("pretrain") == "rbm"


# (with or without pretraining: the decoder mirrors the encoder, so its output is shaped as the input)
KEEPS_ITS_INPUT = Need("stacked reconstructs its own input", lambda f: not f.task_reshapes_input, "model",
                       lambda f: f.model, lambda f: f"a model other than stacked for task={f.task}: each layer-wise "
                       "pretraining stage of stacked reconstructs its own input, which this task reshapes")
# its layer-wise stages reconstruct every value of their input, so a task whose loss counts some only
# (recommend: missing ratings would be learnt as zeros) trains the stack from random weights
COUNTS_EVERY_VALUE = Need("stacked's stages count every value", lambda f: not f.task_masks_loss or not _pretrains(f),
                          "model.pretrain", lambda f: f.option("pretrain"),
                          lambda f: f"none for task={f.task}: its loss counts some values only, and each layer-wise "
                                    "pretraining stage would learn the others (missing ratings) as zeros")
# what RBM pretraining needs for the unrolled net to compute what the RBMs learnt (aebench.models.rbm)
RBM_NEEDS = (
    Need("an RBM's hidden units are Bernoulli", lambda f: not _rbm(f) or f.option("activation") == "sigmoid",
         "model.activation", lambda f: f.option("activation"),
         lambda f: "sigmoid with model.pretrain=rbm: each hidden layer is an RBM's Bernoulli hidden units, whose mean "
                   "is the sigmoid"),
    Need("an RBM's code units are Bernoulli or Gaussian", lambda f: not _rbm(f) or f.code_activation in RBM_CODES,
         "model.code_activation", lambda f: f.code_activation,
         lambda f: "sigmoid (Bernoulli code units) or identity (Gaussian, Hinton & Salakhutdinov's linear code "
                   "units) with model.pretrain=rbm"),
    Need("an RBM's visible units are Bernoulli or unit-variance Gaussian",
         lambda f: not _rbm(f) or f.unit_range or f.standardized, "dataset", lambda f: f.dataset,
         lambda f: "data in [0, 1] (Bernoulli visible units) or standardised (Gaussian visible units of variance 1) "
                   "with model.pretrain=rbm"),
    Need("Bernoulli visible units unroll to logits", lambda f: not _rbm(f) or not f.unit_range or f.loss == "bce",
         "model.loss", lambda f: f.loss,
         lambda f: f"bce with model.pretrain=rbm on {f.data}: its values lie in [0, 1], so the first RBM's visible "
                   "units are Bernoulli and the unrolled decoder outputs their logits"),
)
RBM_CODES = {"sigmoid": "bernoulli", "identity": "gaussian"}
STACKED_NEEDS = (KEEPS_ITS_INPUT, COUNTS_EVERY_VALUE, *RBM_NEEDS)


def stage_facts(options: Mapping[str, Any], facts: Facts) -> list[Facts]:
    """What each layer-wise pretraining stage presents to the regularizers: stage l (from 0) is a shallow
    autoencoder whose code is hidden layer l + 1 (its activation) and, from l = 1, whose input is the
    codes of layer l: unbounded values as far as a corruption knows (``StackedAutoencoder.stage``).
    None with ``pretrain`` rbm or none: the regularizers then act on the whole model only."""
    if options.get("pretrain", "autoencoder") != "autoencoder":
        return []
    widths = hidden_widths(options["hidden_dims"], math.prod(facts.sample_shape), options["code_dim"])
    stages = []
    for index in range(len(widths) + 1):
        last = index == len(widths)
        stages.append(replace(
            facts, model=f"stacked (layer {index + 1}'s pretraining)",
            code_activation=options["code_activation"] if last else options["activation"],
            **({} if index == 0 else {"sample_shape": (widths[index - 1],), "unit_range": False,
                                      "dataset": f"{facts.dataset}/layer{index}-codes"})))
    return stages


class StackedAutoencoder(Autoencoder):
    """Encoder blocks [Linear_l, s_l] and decoder blocks [Linear'_l, s_{l-1}] (none after the last)."""

    def __init__(self, encoder_blocks: Sequence[nn.Sequential], decoder_blocks: Sequence[nn.Sequential],
                 block_activations: Sequence[str], pretrain_epochs: int, pretrain: str = "autoencoder",
                 cd_steps: int = 1, **autoencoder):
        input_shape = tuple(autoencoder["input_shape"])
        encoder = nn.Sequential(nn.Flatten(), *encoder_blocks)
        decoder = nn.Sequential(*reversed(decoder_blocks), nn.Unflatten(1, input_shape))
        super().__init__(encoder, decoder, **autoencoder)
        self.pretrain_epochs, self.pretrain = pretrain_epochs, require_choice("pretrain", pretrain, PRETRAINING)
        self.cd_steps = cd_steps
        self._blocks = list(zip(encoder_blocks, decoder_blocks))  # plain list: already registered above
        self._block_activations = list(block_activations)

    @property
    def num_stages(self) -> int:
        return len(self._blocks)

    @property
    def pretrains(self) -> bool:
        return self.pretrain != "none" and self.pretrain_epochs > 0

    @property
    def pretraining_epochs(self) -> int:
        """Epochs of layer-wise pretraining, all layers together."""
        return self.pretrain_epochs * self.num_stages if self.pretrains else 0

    def stage(self, index: int) -> Autoencoder | RBM:
        """The module that pretrains layer ``index`` (0 = next to the input): a shallow autoencoder, or
        with ``pretrain="rbm"`` an RBM on the same layer."""
        encoder_block, decoder_block = self._blocks[index]
        if self.pretrain == "rbm":
            bernoulli_inputs = index > 0 or self.unit_range  # layers above read sigmoid units, in (0, 1)
            return RBM(encoder_block[0], decoder_block[0], visible="bernoulli" if bernoulli_inputs else "gaussian",
                       hidden=RBM_CODES.get(self._block_activations[index], "bernoulli"), cd_steps=self.cd_steps,
                       lr=self.lr)
        if index == 0:
            encoder, decoder = nn.Sequential(nn.Flatten(), encoder_block), nn.Sequential(
                decoder_block, nn.Unflatten(1, self.input_shape))
            input_shape, loss, unit_range = self.input_shape, self.loss_name, self.unit_range
        else:
            encoder, decoder = encoder_block, decoder_block
            input_shape, loss, unit_range = (encoder_block[0].in_features,), "mse", False
        regularizers = [copy.copy(r) for r in self.regularizers]  # shallow copies: each binds to its stage
        return Autoencoder(encoder, decoder, architecture={"name": f"stacked/layer{index + 1}"},
                           input_shape=input_shape, code_dim=encoder_block[0].out_features,
                           code_activation=self._block_activations[index], loss=loss, lr=self.lr,
                           unit_range=unit_range, regularizers=regularizers)


@register_model(code_activation="code_activation", needs=STACKED_NEEDS, stage_facts=stage_facts)
def stacked(input_shape: Sequence[int], code_dim: int = 16, hidden_dims: Sequence[int] | str = AUTO,
            activation: str = "sigmoid", code_activation: str = "sigmoid", tied_weights: bool = False,
            pretrain_epochs: int = 10, pretrain: str = "autoencoder", cd_steps: int = 1,
            **training) -> StackedAutoencoder:
    """A deep autoencoder with a mirrored decoder, pretrained layer by layer (``pretrain``: as
    autoencoders, as RBMs with CD-``cd_steps``, or not at all) for ``pretrain_epochs`` each, then
    fine-tuned end to end."""
    require_int("code_dim", code_dim, minimum=1)
    hidden_dims = hidden_widths(hidden_dims, math.prod(input_shape), code_dim)
    require_activation("activation", activation)
    require_activation("code_activation", code_activation)
    require_int("pretrain_epochs", pretrain_epochs, minimum=0)
    require_choice("pretrain", pretrain, PRETRAINING)
    require_int("cd_steps", cd_steps, minimum=1)
    output_shape = tuple(training.get("output_shape") or input_shape)
    options = (("activation", activation), ("pretrain", pretrain), ("pretrain_epochs", pretrain_epochs))
    require(KEEPS_ITS_INPUT.met(Facts(output_shape, task_reshapes_input=output_shape != tuple(input_shape))),
            "output_shape", output_shape,
            f"the input's shape {tuple(input_shape)}: each pretraining stage of stacked reconstructs its input")
    task = training.get("task")
    check_needs((COUNTS_EVERY_VALUE, *RBM_NEEDS),
                Facts(output_shape, unit_range=training.get("unit_range", True), loss=training.get("loss", "mse"),
                      code_activation=code_activation, options=options, task=getattr(task, "name", "reconstruct"),
                      task_masks_loss=bool(task is not None and task.masks_loss)))
    input_shape = tuple(input_shape)
    widths = [math.prod(input_shape), *hidden_dims, code_dim]
    activations = [activation] * len(hidden_dims) + [code_activation]
    encoder_blocks, decoder_blocks = [], []
    for index, (width_in, width_out) in enumerate(zip(widths, widths[1:])):
        layer = nn.Linear(width_in, width_out)
        encoder_blocks.append(nn.Sequential(layer, make_activation(activations[index])))
        back = TiedLinear(layer) if tied_weights else nn.Linear(width_out, width_in)
        # the decoder block rebuilds h_{l-1}: an activated hidden layer, or the raw output for l = 1
        decoder_blocks.append(nn.Sequential(back, make_activation(activation)) if index else nn.Sequential(back))
    architecture = {"name": "stacked", "input_shape": list(input_shape), "code_dim": code_dim,
                    "hidden_dims": list(hidden_dims), "activation": activation,
                    "code_activation": code_activation, "tied_weights": tied_weights,
                    "pretrain_epochs": pretrain_epochs, "pretrain": pretrain, "cd_steps": cd_steps}
    return StackedAutoencoder(encoder_blocks, decoder_blocks, activations, pretrain_epochs, pretrain, cd_steps,
                              architecture=architecture, input_shape=input_shape, code_dim=code_dim,
                              code_activation=code_activation, **training)
