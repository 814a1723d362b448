"""Restricted Boltzmann machines, for the layer-wise pretraining of a stacked autoencoder
(``model=stacked model.pretrain=rbm``; Hinton & Salakhutdinov 2006, "Reducing the dimensionality of
data with neural networks", Science 313).

An RBM here owns no weights of its own: it is a view of one layer of the deep autoencoder. The
encoder layer's weight ``W`` (hidden x visible) and bias ``c`` are the RBM's weight and hidden
bias, the mirrored decoder layer's bias ``b`` is its visible bias. After training, :meth:`RBM.unroll`
copies ``W^T`` into the decoder layer (their Fig. 1, "unrolling"), so the encoder layer computes the
mean of p(h | v) and the decoder layer the mean of p(v | h) (its logit, for Bernoulli visible
units under ``model.loss=bce``).

Units (Hinton 2010, "A practical guide to training restricted Boltzmann machines", UTML TR
2010-003, sections 13.1-13.2), with E(v, h) = E_v(v) + E_h(h) - h . W v:

- visible ``bernoulli`` (values in [0, 1], used as probabilities): E_v(v) = -b . v;
  ``gaussian`` with unit variance (standardised data): E_v(v) = ||v - b||^2 / 2.
- hidden ``bernoulli`` (a sigmoid layer): E_h(h) = -c . h, h in {0, 1};
  ``gaussian`` with unit variance (an identity code layer: the linear code units of Hinton &
  Salakhutdinov): E_h(h) = ||h - c||^2 / 2.

Summing (or integrating) out h gives the free energy F(v) = -log sum_h exp(-E(v, h)):

    F(v) = E_v(v) - sum_j softplus(c_j + W_j v)              (bernoulli hidden)
    F(v) = E_v(v) - sum_j ((c_j + W_j v)^2 - c_j^2) / 2      (gaussian hidden, up to a constant)

and the log-likelihood's gradient is -dF(v_data)/dtheta + E_model[dF(v)/dtheta]. Contrastive
divergence (CD-k; Hinton 2002, "Training products of experts by minimizing contrastive divergence")
replaces the model's expectation by v_k, the end of k steps of Gibbs sampling started at the data,
so minimising F(v_0) - F(v_k) with v_k held fixed follows the CD-k gradient. Hidden states are
sampled along the chain, visible ones are their means (the guide's section 3.2).
"""
from __future__ import annotations

import math

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn

from aebench.errors import TrainingDiverged, require, require_choice, require_int, require_number
from aebench.models.autoencoder import adam

UNITS = ("bernoulli", "gaussian")


class RBM(L.LightningModule):
    """The RBM of one layer: ``hidden_layer`` (an ``nn.Linear``, visible -> hidden) gives W and c,
    ``visible_layer`` (the mirrored decoder layer, hidden -> visible) gives b and receives W^T."""

    def __init__(self, hidden_layer: nn.Linear, visible_layer: nn.Module, *, visible: str = "bernoulli",
                 hidden: str = "bernoulli", cd_steps: int = 1, lr: float = 1e-3):
        super().__init__()
        self.visible = require_choice("visible units", visible, UNITS)
        self.hidden = require_choice("hidden units", hidden, UNITS)
        require(not visible == hidden == "gaussian", "hidden units", hidden,
                "bernoulli with Gaussian visible units: with both Gaussian the joint is normalisable only for a "
                "weight of spectral norm below 1, which training does not keep")
        self.cd_steps = require_int("model.cd_steps", cd_steps, minimum=1)
        self.lr = require_number("lr", lr, minimum=0.0, open_minimum=True)
        self.hidden_layer, self.visible_layer = hidden_layer, visible_layer

    @property
    def weight(self) -> torch.Tensor:
        return self.hidden_layer.weight

    @property
    def hidden_bias(self) -> torch.Tensor:
        return self.hidden_layer.bias

    @property
    def visible_bias(self) -> torch.Tensor:
        return self.visible_layer.bias

    def trained_parameters(self) -> list[nn.Parameter]:
        return [self.hidden_layer.weight, self.hidden_layer.bias, self.visible_layer.bias]

    def free_energy(self, v: torch.Tensor) -> torch.Tensor:
        """F(v) of each row of ``v`` (the module docstring's formulas)."""
        pre = F.linear(v, self.weight, self.hidden_bias)
        if self.visible == "bernoulli":
            visible_term = -(v @ self.visible_bias)
        else:
            visible_term = 0.5 * (v - self.visible_bias).pow(2).sum(dim=1)
        if self.hidden == "bernoulli":
            return visible_term - F.softplus(pre).sum(dim=1)
        return visible_term - 0.5 * (pre.pow(2) - self.hidden_bias.pow(2)).sum(dim=1)

    def hidden_mean(self, v: torch.Tensor) -> torch.Tensor:
        """E[h | v]: sigmoid(W v + c), or W v + c for Gaussian hidden units."""
        pre = F.linear(v, self.weight, self.hidden_bias)
        return torch.sigmoid(pre) if self.hidden == "bernoulli" else pre

    def visible_mean(self, h: torch.Tensor) -> torch.Tensor:
        """E[v | h]: sigmoid(W^T h + b), or W^T h + b for Gaussian visible units."""
        pre = F.linear(h, self.weight.t(), self.visible_bias)
        return torch.sigmoid(pre) if self.visible == "bernoulli" else pre

    def sample_hidden(self, v: torch.Tensor) -> torch.Tensor:
        mean = self.hidden_mean(v)
        return torch.bernoulli(mean) if self.hidden == "bernoulli" else mean + torch.randn_like(mean)

    def gibbs_chain_end(self, v0: torch.Tensor) -> torch.Tensor:
        """v_k: k alternating steps h ~ p(h | v), v = E[v | h], from the data."""
        v = v0
        with torch.no_grad():
            for _ in range(self.cd_steps):
                v = self.visible_mean(self.sample_hidden(v))
        return v

    def contrastive_divergence(self, v0: torch.Tensor) -> torch.Tensor:
        """mean F(v_0) - mean F(v_k): its gradient is the CD-k estimate of the negative log-likelihood's."""
        return self.free_energy(v0).mean() - self.free_energy(self.gibbs_chain_end(v0)).mean()

    def reconstruction_error(self, v: torch.Tensor) -> torch.Tensor:
        """The mean squared error of E[v | E[h | v]]: what the unrolled one-layer autoencoder reconstructs."""
        return F.mse_loss(self.visible_mean(self.hidden_mean(v)), v)

    def code_of(self, x: torch.Tensor) -> torch.Tensor:
        """The next layer's data: E[h | v], which the encoder layer computes once unrolled."""
        return self.hidden_mean(x.flatten(1))

    def training_step(self, x: torch.Tensor, batch_idx: int) -> torch.Tensor:
        v0 = x.flatten(1)
        objective = self.contrastive_divergence(v0)
        with torch.no_grad():
            error = self.reconstruction_error(v0)
        size = x.shape[0]
        self.log("train/free_energy_gap", objective, on_step=False, on_epoch=True, batch_size=size, sync_dist=True)
        self.log("train/loss", error, on_step=False, on_epoch=True, batch_size=size, sync_dist=True)
        return objective

    def on_train_epoch_end(self) -> None:
        gap = self.trainer.callback_metrics.get("train/free_energy_gap")
        if gap is not None and not math.isfinite(float(gap)):
            raise TrainingDiverged(f"the RBM's free energy became {float(gap)} in epoch {self.current_epoch}")

    def validation_step(self, x: torch.Tensor, batch_idx: int) -> None:
        """``val/loss``: the reconstruction error on validation data (an RBM has no tractable likelihood)."""
        self.log("val/loss", self.reconstruction_error(x.flatten(1)), on_step=False, on_epoch=True,
                 batch_size=x.shape[0], sync_dist=True)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return adam(self.trained_parameters(), self.lr)

    def _untied_decoder_weight(self) -> nn.Parameter | None:
        return self.visible_layer.weight if isinstance(self.visible_layer, nn.Linear) else None

    def on_fit_start(self) -> None:
        """The decoder layer's own weight takes no part until unrolled: frozen, so that data-parallel
        training (which refuses parameters without gradients) and the optimizer leave it alone."""
        if self._untied_decoder_weight() is not None:
            self._untied_decoder_weight().requires_grad_(False)

    @torch.no_grad()
    def unroll(self) -> None:
        """The decoder layer's weight becomes W^T (a tied decoder layer reads W already)."""
        weight = self._untied_decoder_weight()
        if weight is not None:
            weight.copy_(self.weight.t())
            weight.requires_grad_(True)

    def on_fit_end(self) -> None:
        self.unroll()
