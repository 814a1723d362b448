"""RBM pretraining of a stacked autoencoder (``model.pretrain=rbm``): the free energy and its gradient
against brute-force enumeration, CD-1 learning, the unrolled net, and the rules."""
import itertools
import math

import lightning as L
import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

from aebench.errors import ConfigError
from aebench.models.rbm import RBM
from aebench.run.plan import build_trainer, plan_run
from aebench.run.pretrain import pretrain_layerwise
from aebench.run.train import train


def small_rbm(n_visible: int, n_hidden: int, seed: int = 0, **units) -> RBM:
    torch.manual_seed(seed)
    hidden_layer, visible_layer = nn.Linear(n_visible, n_hidden).double(), nn.Linear(n_hidden, n_visible).double()
    with torch.no_grad():
        for parameter in (hidden_layer.weight, hidden_layer.bias, visible_layer.bias):
            parameter.normal_(0, 0.7)
    return RBM(hidden_layer, visible_layer, **units)


def all_states(n: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=n)), dtype=torch.float64)


def energy(v, h, weight, hidden_bias, visible_bias):
    """E(v, h) = -b.v - c.h - h.W v of a Bernoulli RBM, for every pair of rows of v and h."""
    return -(v @ visible_bias)[:, None] - (h @ hidden_bias)[None, :] - v @ weight.t() @ h.t()


def test_free_energy_and_its_gradient_match_enumeration_of_every_state_of_a_4x3_rbm():
    rbm = small_rbm(4, 3)
    v, h = all_states(4), all_states(3)
    W, c, b = rbm.weight, rbm.hidden_bias, rbm.visible_bias

    # F(v) = -log sum_h exp(-E(v, h)), summing the 8 hidden states
    brute = -torch.logsumexp(-energy(v, h, W, c, b), dim=1)
    assert torch.allclose(rbm.free_energy(v), brute, atol=1e-12)

    # the exact negative log-likelihood of a data set, from the 16 x 8 joint states
    data = v[[1, 6, 6, 9, 15]]

    def negative_log_likelihood(W, c, b):
        log_z = torch.logsumexp(-energy(v, h, W, c, b).flatten(), dim=0)
        return (-torch.logsumexp(-energy(data, h, W, c, b), dim=1) + log_z).mean()

    exact = torch.autograd.grad(negative_log_likelihood(W, c, b), (W, c, b))
    # the free-energy form: mean F(data) - E_model[F(v)], the model's p(v) by enumeration, held fixed
    model_probability = torch.softmax(-rbm.free_energy(v), dim=0).detach()
    objective = rbm.free_energy(data).mean() - (model_probability * rbm.free_energy(v)).sum()
    through_free_energy = torch.autograd.grad(objective, (W, c, b))
    for got, want in zip(through_free_energy, exact):
        assert torch.allclose(got, want, atol=1e-12)
    # and by central differences of the likelihood itself, for one weight
    step = 1e-6
    bumped = [W.detach().clone() for _ in range(2)]
    bumped[0][1, 2] += step
    bumped[1][1, 2] -= step
    numeric = (negative_log_likelihood(bumped[0], c, b) - negative_log_likelihood(bumped[1], c, b)) / (2 * step)
    assert abs(numeric.item() - through_free_energy[0][1, 2].item()) < 1e-7


def test_contrastive_divergence_follows_the_free_energy_at_the_data_minus_at_the_chain_end():
    """The CD-k gradient: d/dtheta [F(v_0) - F(v_k)] with v_k a constant (no gradient through the chain)."""
    rbm = small_rbm(4, 3, cd_steps=3)
    data = all_states(4)[[1, 6, 9, 15]]
    torch.manual_seed(5)
    objective = rbm.contrastive_divergence(data)
    got = torch.autograd.grad(objective, rbm.trained_parameters())
    torch.manual_seed(5)
    chain_end = rbm.gibbs_chain_end(data)
    assert not chain_end.requires_grad
    want = torch.autograd.grad(rbm.free_energy(data).mean() - rbm.free_energy(chain_end).mean(),
                               rbm.trained_parameters())
    for g, w in zip(got, want):
        assert torch.allclose(g, w, atol=1e-12)
    # the positive phase alone: dF/dW = -E[h | v] v^T, averaged over the data
    positive = torch.autograd.grad(rbm.free_energy(data).mean(), rbm.weight)[0]
    assert torch.allclose(positive, -(rbm.hidden_mean(data).t() @ data) / len(data), atol=1e-12)


def test_gaussian_units_free_energy_matches_its_closed_form():
    """Gaussian visible (standardised data): F(v) = ||v - b||^2 / 2 - sum_j softplus(c_j + W_j v); Gaussian
    hidden: the hidden integral exp((c + W v)^2 / 2 - c^2 / 2), checked here by numerical integration."""
    rbm = small_rbm(3, 1, hidden="gaussian")
    v = torch.tensor([[0.0, 1.0, 1.0], [1.0, 0.0, 1.0]], dtype=torch.float64)
    grid = torch.linspace(-30, 30, 200001, dtype=torch.float64)
    W, c, b = rbm.weight[0], rbm.hidden_bias[0], rbm.visible_bias
    # E(v, h) = -b.v + (h - c)^2 / 2 - h W v, minus the constant log sqrt(2 pi) the closed form leaves out
    integrand = torch.exp(v @ b[:, None] - (grid - c) ** 2 / 2 + grid * (v @ W)[:, None])
    brute = -torch.log(torch.trapezoid(integrand, grid, dim=1)) + 0.5 * math.log(2 * math.pi)
    assert torch.allclose(rbm.free_energy(v), brute, rtol=0, atol=1e-8)

    # Gaussian visible: F(v) = ||v - b||^2 / 2 - log sum_h exp(c.h + h.W v), the 8 hidden states enumerated
    gaussian_visible = small_rbm(4, 3, visible="gaussian")
    x = torch.randn(5, 4, dtype=torch.float64)
    h = all_states(3)
    W, c, b = gaussian_visible.weight, gaussian_visible.hidden_bias, gaussian_visible.visible_bias
    expected = 0.5 * ((x - b) ** 2).sum(1) - torch.logsumexp(h @ c + x @ W.t() @ h.t(), dim=1)
    assert torch.allclose(gaussian_visible.free_energy(x), expected, rtol=0, atol=1e-12)
    with pytest.raises(ConfigError, match="hidden units"):
        small_rbm(4, 3, visible="gaussian", hidden="gaussian")


def test_cd1_learns_a_tiny_binary_data_set_and_unrolls_into_the_decoder():
    patterns = torch.tensor([[1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1], [1, 0, 1, 0, 1, 0], [0, 1, 0, 1, 0, 1]],
                            dtype=torch.float32).repeat(64, 1)
    torch.manual_seed(0)
    rbm = RBM(nn.Linear(6, 4), nn.Linear(4, 6), cd_steps=1, lr=0.05)
    with torch.no_grad():
        before = float(rbm.reconstruction_error(patterns))
    trainer = L.Trainer(max_epochs=40, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False)
    trainer.fit(rbm, DataLoader(patterns, batch_size=16, shuffle=True))
    with torch.no_grad():
        after = float(rbm.reconstruction_error(patterns))
    assert after < 0.3 * before, (before, after)
    # unrolled: the decoder layer is W^T with the visible bias, so it computes E[v | h]'s logit
    assert torch.equal(rbm.visible_layer.weight, rbm.weight.t())
    codes = rbm.code_of(patterns)
    assert torch.allclose(torch.sigmoid(rbm.visible_layer(codes)), rbm.visible_mean(codes))


def test_rbm_pretraining_trains_every_layer_as_an_rbm_and_fine_tuning_starts_from_the_unrolled_stack(make_config):
    cfg = make_config("model=stacked", "model.pretrain=rbm", "model.loss=bce", "model.pretrain_epochs=2")
    plan = plan_run(cfg)
    model, stages = plan.model, []

    def fit_stage(stage, stage_data, index):
        stages.append(stage)
        build_trainer(cfg, max_epochs=model.pretrain_epochs, select=False).fit(stage, datamodule=stage_data)

    initial = {name: value.clone() for name, value in model.state_dict().items()}
    pretrain_layerwise(model, plan.datamodule, fit_stage)
    assert [type(stage) for stage in stages] == [RBM] * 3
    assert [(s.visible, s.hidden) for s in stages] == [("bernoulli", "bernoulli")] * 3  # digits in [0, 1]
    for index in range(3):
        encoder_layer, decoder_layer = model.encoder[index + 1][0], model.decoder[2 - index][0]
        assert not torch.equal(encoder_layer.weight, initial[f"encoder.{index + 1}.0.weight"])
        assert torch.equal(decoder_layer.weight, encoder_layer.weight.t())  # unrolled


def test_pretrain_choices_are_logged_side_by_side(make_config, client):
    common = ["model=stacked", "model.loss=bce", "model.pretrain_epochs=2", "trainer.max_epochs=2"]
    rbm = train(make_config(*common, "model.pretrain=rbm", "regularizer=l2"))
    history = client.get_metric_history(rbm.run_id, "pretrain/layer2/train/free_energy_gap")
    assert len(history) == 2 and len(client.get_metric_history(rbm.run_id, "pretrain/layer3/val/loss")) == 2
    run = client.get_run(rbm.run_id)
    assert run.data.params["model.pretrain"] == "rbm" and run.data.metrics["train/total_epochs"] == 2 * 3 + 2
    none = train(make_config(*common, "model.pretrain=none"))
    assert not [key for key in client.get_run(none.run_id).data.metrics if key.startswith("pretrain/")]
    assert client.get_run(none.run_id).data.metrics["train/total_epochs"] == 2


@pytest.mark.parametrize("override, field", [
    (["model.loss=mse"], "model.loss"),                                     # Bernoulli visible units on digits
    (["model.loss=bce", "model.activation=relu"], "model.activation"),
    (["model.loss=bce", "model.code_activation=tanh"], "model.code_activation"),
    (["model.loss=bce", "model.pretrain=boltzmann"], "model.pretrain"),
])
def test_rbm_pretraining_refuses_what_cannot_unroll(make_config, override, field):
    with pytest.raises(ConfigError) as refused:
        plan_run(make_config("model=stacked", "model.pretrain=rbm", *override))
    assert refused.value.field == field, str(refused.value)


def test_rbm_pretraining_refuses_data_neither_in_the_unit_range_nor_standardised(make_config, tmp_path):
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(3.0, 5.0, size=(120, 6)).astype(np.float32))
    data = [f"dataset.path={tmp_path / 'x.npy'}", "dataset.scaling=none"]
    with pytest.raises(ConfigError, match="with model.pretrain=rbm") as refused:
        plan_run(make_config("model=stacked", "model.pretrain=rbm", "dataset=npy", *data))
    assert refused.value.field == "dataset"
    plan_run(make_config("model=stacked", "model.pretrain=autoencoder", "dataset=npy", *data))  # only rbm needs it


@pytest.mark.parametrize("tied", [False, True])
def test_the_unrolled_stack_computes_the_rbms_means_up_and_down(make_config, tied):
    """Standardised data (wine): Gaussian visible units below, linear code units on top; encoding is the
    chain of E[h | v] up the RBMs, decoding the chain of E[v | h] down them (Hinton & Salakhutdinov, Fig. 1)."""
    cfg = make_config("model=stacked", "model.pretrain=rbm", "dataset=wine", "model.code_activation=identity",
                      "model.pretrain_epochs=2", "model.cd_steps=2", f"model.tied_weights={str(tied).lower()}")
    plan = plan_run(cfg)
    model = plan.model
    stages = []

    def fit_stage(stage, stage_data, index):
        stages.append(stage)
        build_trainer(cfg, max_epochs=model.pretrain_epochs, select=False).fit(stage, datamodule=stage_data)

    pretrain_layerwise(model, plan.datamodule, fit_stage)
    assert [(s.visible, s.hidden) for s in stages] == [("gaussian", "bernoulli"), ("bernoulli", "bernoulli"),
                                                       ("bernoulli", "gaussian")]
    x = plan.datamodule.inputs("test")
    with torch.no_grad():
        up = x.flatten(1)
        for stage in stages:
            up = stage.hidden_mean(up)
        assert torch.allclose(model.code_of(x), up, atol=1e-6)
        down = up
        for stage in reversed(stages):
            down = stage.visible_mean(down)
        assert torch.allclose(model(x).flatten(1), down, atol=1e-5)
    assert all(p.requires_grad for p in model.parameters())  # the decoder weights frozen in each stage are back
