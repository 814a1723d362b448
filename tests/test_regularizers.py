"""Regularizers in training: denoising targets, every model x regularizer, and their effect on digits."""
import pytest
import torch
from omegaconf import OmegaConf

from aebench.errors import ConfigError
from aebench.models import undercomplete
from aebench.regularizers import Denoising, build_regularizers, list_regularizers, regularizer_label
from aebench.run.plan import build_datamodule, plan_run
from aebench.run.rules import describe, first_broken_rule
from aebench.run.train import train

MODELS = ["linear", "undercomplete", "overcomplete", "deep", "conv", "stacked"]
REGULARIZER_CONFIGS = ["none", "l2", "denoising", "sparse_l1", "sparse_kl", "contractive",
                       "sparse_kl_denoising", "contractive_denoising"]


@pytest.mark.parametrize("noise,expected_zero,expected_one", [("masking", 0.3, 0.0), ("salt_pepper", 0.15, 0.15)])
def test_corruption_rate_is_as_configured(noise, expected_zero, expected_one):
    torch.manual_seed(0)
    x = torch.full((400, 500), 0.5)
    corrupted = Denoising(noise=noise, noise_prob=0.3).corrupt(x)
    assert (corrupted == 0).float().mean().item() == pytest.approx(expected_zero, abs=0.005)
    assert (corrupted == 1).float().mean().item() == pytest.approx(expected_one, abs=0.005)
    assert (corrupted == 0.5).float().mean().item() == pytest.approx(0.7, abs=0.005)
    again = Denoising(noise=noise, noise_prob=0.3).corrupt(x)
    assert not torch.equal(corrupted, again)  # fresh corruption at every call


def test_gaussian_corruption_has_the_configured_std():
    torch.manual_seed(0)
    x = torch.rand(300, 300)
    noise = Denoising(noise="gaussian", noise_std=0.2).corrupt(x) - x
    assert noise.mean().item() == pytest.approx(0, abs=0.002) and noise.std().item() == pytest.approx(0.2, rel=0.01)


def test_denoising_loss_compares_with_the_clean_input():
    model = undercomplete(input_shape=(20,), code_dim=5, regularizers=[Denoising(noise="masking", noise_prob=0.5)])
    x = torch.rand(16, 20)
    torch.manual_seed(3)
    (loss,) = model.loss_terms(x)
    torch.manual_seed(3)
    corrupted = model.regularizers[0].corrupt(x)
    output = model.decoder(model.encoder(corrupted))
    assert loss.item() == pytest.approx(torch.nn.functional.mse_loss(output, x).item(), rel=1e-6)
    assert loss.item() != pytest.approx(torch.nn.functional.mse_loss(output, corrupted).item(), rel=1e-3)


def test_nothing_is_corrupted_outside_training(make_config, monkeypatch):
    calls = []
    original = Denoising.corrupt
    monkeypatch.setattr(Denoising, "corrupt", lambda self, x: calls.append(x.shape[0]) or original(self, x))
    plan = plan_run(make_config("regularizer=denoising", "trainer.max_epochs=2"))
    plan.fit()
    train_samples = len(plan.datamodule.split.train)
    assert sum(calls) == 2 * train_samples  # every training batch of both epochs, nothing else
    assert len(plan.model.trainer.callback_metrics) and "val/loss" in plan.trainer.callback_metrics  # validated too
    plan.trainer.test(plan.model, datamodule=plan.datamodule, verbose=False)
    assert sum(calls) == 2 * train_samples


@pytest.mark.parametrize("regularizer", REGULARIZER_CONFIGS)
@pytest.mark.parametrize("model", MODELS)
def test_every_model_with_every_regularizer_trains_or_is_refused_by_a_rule(make_config, model, regularizer):
    cfg = make_config(f"model={model}", f"regularizer={regularizer}", "trainer.max_epochs=1",
                      "model.pretrain_epochs=1" if model == "stacked" else "seed=0")
    rule = first_broken_rule(describe(cfg, build_datamodule(cfg).arrays))
    if rule is not None:
        with pytest.raises(ConfigError) as refused:
            plan_run(cfg)
        assert str(refused.value) == str(rule) and "\n" not in str(rule)
        return
    plan = plan_run(cfg)
    plan.fit()
    logged = plan.trainer.callback_metrics
    assert torch.isfinite(logged["train/loss"])
    for term in plan.model.regularizers:
        if term.has_penalty:
            assert torch.isfinite(logged[f"train/penalty/{term.name}"])
    results = plan.trainer.test(plan.model, datamodule=plan.datamodule, verbose=False)[0]
    for metric in ("test/mse", "test/jacobian_frobenius", "test/code_mean_abs", "test/code_hoyer", "test/denoise_psnr"):
        assert results[metric] == results[metric], metric  # present and not NaN


def test_the_declared_rules_refuse_what_cannot_work(make_config):
    refusals = {
        ("model=linear", "regularizer=sparse_kl"): "regularizer='sparse_kl' is not allowed: regularizer=sparse_kl "
                                                   "needs code activations in (0, 1), a sigmoid code layer; "
                                                   "the code activation of model=linear is identity",
        ("model=deep", "model.code_activation=relu", "regularizer=sparse_kl_denoising"): "the code activation of model=deep is relu",
        ("model=conv", "dataset=synthetic_lowrank"): "dataset=synthetic_lowrank gives vectors shaped (64,)",
    }
    for overrides, message in refusals.items():
        cfg = make_config(*overrides)
        with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
            plan_run(cfg)


def test_combinations_are_composed_and_labelled(make_config):
    cfg = make_config("regularizer=sparse_kl_denoising", "regularizer.terms.sparse_kl.weight=0.2")
    terms = build_regularizers(OmegaConf.to_container(cfg.regularizer))
    assert [t.name for t in terms] == ["sparse_kl", "denoising"] and terms[0].weight == 0.2
    assert regularizer_label(cfg.regularizer) == "sparse_kl+denoising"
    adhoc = make_config("regularizer=combined", "+regularizer@regularizer.terms.l2=l2",
                        "+regularizer@regularizer.terms.contractive=contractive")
    assert regularizer_label(adhoc.regularizer) == "l2+contractive"
    assert regularizer_label(make_config("regularizer=none").regularizer) == "none"
    assert list_regularizers() == ["none", "contractive", "denoising", "l2", "orthogonal", "sparse_kl", "sparse_l1"]


def test_each_term_of_a_combination_is_logged_on_its_own(make_config, client):
    result = train(make_config("regularizer=combined", "+regularizer@regularizer.terms.l2=l2",
                               "+regularizer@regularizer.terms.contractive=contractive",
                               "+regularizer@regularizer.terms.denoising=denoising"))
    run = client.get_run(result.run_id)
    assert run.data.tags["regularizer"] == "l2+contractive+denoising"
    for term in ("l2", "contractive"):
        assert len(client.get_metric_history(result.run_id, f"train/penalty/{term}")) == 3
    assert "train/penalty/denoising" not in run.data.metrics  # a corruption, not a penalty
    assert run.data.params["regularizer.terms.l2.weight"] == "0.0001"


@pytest.fixture(scope="module")
def default_metrics(tracking_uri):
    """Test metrics of the default run (undercomplete on digits) under each regularizer's defaults."""
    from hydra import compose, initialize_config_dir

    from aebench.config import config_dir

    results = {}
    for regularizer in ("none", "contractive", "sparse_l1", "sparse_kl"):
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            cfg = compose("config", overrides=[f"regularizer={regularizer}", f"tracking.uri={tracking_uri}",
                                               "tracking.experiment=effects", "trainer.progress_bar=false",
                                               "tracking.log_model=false"])
        results[regularizer] = train(cfg).metrics
    return results


@pytest.mark.slow
def test_contractive_shrinks_the_jacobian(default_metrics):
    """Rifai et al. 2011, Table 1: the CAE has by far the smallest ||J||_F."""
    none, contractive = default_metrics["none"], default_metrics["contractive"]
    assert contractive["test/jacobian_frobenius"] < 0.5 * none["test/jacobian_frobenius"]


@pytest.mark.slow
def test_sparse_l1_shrinks_the_code(default_metrics):
    assert default_metrics["sparse_l1"]["test/code_mean_abs"] < 0.8 * default_metrics["none"]["test/code_mean_abs"]


@pytest.mark.slow
def test_sparse_kl_brings_the_mean_activation_to_its_target(default_metrics):
    assert default_metrics["sparse_kl"]["test/code_mean"] == pytest.approx(0.05, abs=0.02)
    assert default_metrics["none"]["test/code_mean"] > 0.2


def test_a_model_keeping_its_layer_outputs_can_be_deep_copied(make_config):
    """Weight-averaging callbacks deep-copy the model: the copy leaves the kept outputs (tensors inside a
    graph) behind, and its own passes keep their own."""
    import copy

    from aebench.run.plan import plan_run

    model = plan_run(make_config("model=deep", "regularizer=contractive")).model
    x = torch.rand(8, 1, 8, 8)
    terms = model.loss_terms(x)
    kept = model.regularizers[0]._jacobian._outputs
    clone = copy.deepcopy(model)
    assert torch.allclose(torch.stack(clone.loss_terms(x)), torch.stack(terms).detach())
    assert model.regularizers[0]._jacobian._outputs is kept
    assert clone.regularizers[0]._jacobian._outputs[-1] is not kept[-1]


@pytest.mark.parametrize("model,projections,estimate", [
    ("undercomplete", "auto", None), ("deep", "auto", None), ("conv", "auto", 1),  # exact where it is cheap
    ("conv", "null", None), ("conv", "3", 3), ("deep", "2", 2),
])
def test_the_contractive_penalty_is_estimated_by_default_only_where_exact_is_dear(make_config, model, projections,
                                                                                   estimate):
    """A convolutional encoder's exact norm takes one vector-Jacobian product per code unit (8.6x a plain
    step); by default it takes the unbiased one-projection estimate (1.8x, BENCHMARKS.md)."""
    from aebench.run.plan import plan_run

    plan = plan_run(make_config(f"model={model}", "regularizer=contractive", f"regularizer.projections={projections}"))
    assert plan.model.regularizers[0].estimate == estimate
    plan.fit()
    assert torch.isfinite(plan.trainer.callback_metrics["train/penalty/contractive"])
