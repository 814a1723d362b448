"""The latent seam holds a variational bottleneck: model=vae trains, is tested, swept and reported."""
import pytest
import torch
from sweeps import aebench, runs
from torch.distributions import Normal, kl_divergence

from aebench.models import create_model
from aebench.run.train import train


def test_the_kl_term_against_torch_distributions():
    torch.manual_seed(0)
    model = create_model("vae", input_shape=(1, 8, 8), code_dim=3, hidden_dims=[10], kl_weight=0.5)
    x = torch.rand(7, 1, 8, 8)
    latent = model.encode(x)
    features = model.encoder(x)
    mean, log_variance = model.bottleneck.mean(features), model.bottleneck.log_variance(features)
    posterior = Normal(mean, torch.exp(0.5 * log_variance))
    expected = 0.5 * kl_divergence(posterior, Normal(0.0, 1.0)).sum(dim=1).mean() / 64
    assert latent.terms["kl"].item() == pytest.approx(expected.item(), rel=1e-5)


def test_the_code_is_the_posterior_mean_and_the_decoder_trains_on_draws():
    torch.manual_seed(0)
    model = create_model("vae", input_shape=(20,), code_dim=4, hidden_dims=[8])
    x = torch.randn(5, 20)
    first, second = model.encode(x), model.encode(x)
    assert torch.equal(first.code, second.code) and torch.equal(model.code_of(x), first.code)
    assert not torch.allclose(first.sample, second.sample)  # a fresh draw each pass
    assert torch.allclose(model(x), model.decode(first.code))
    assert torch.equal(model.code_encoder(x), first.code)  # what the Jacobian metric differentiates


def test_a_vae_run_logs_its_kl(make_config, client):
    result = train(make_config("model=vae", "model.code_dim=4"))
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED" and run.data.params["model.kl_weight"] == "1.0"
    assert len(client.get_metric_history(result.run_id, "train/kl")) == 3
    assert result.metrics["test/kl"] > 0 and result.metrics["model/code_dim"] == 4
    assert result.metrics["test/jacobian_frobenius"] > 0 and 0 < result.metrics["test/probe_accuracy"] <= 1


@pytest.mark.slow
def test_vae_runs_in_a_sweep_and_its_report(tmp_path):
    done = aebench(tmp_path, "+sweep=quick", "sweep.datasets=[digits]", "sweep.models=[vae,linear]",
                   "sweep.regularizers=[none]", "sweep.seeds=1", "trainer.max_epochs=2")
    assert done.returncode == 0, done.stderr
    trained = runs(tmp_path)
    assert sorted(run.data.tags["model"] for run in trained) == ["linear", "vae"]
    assert all(run.info.status == "FINISHED" for run in trained)
    (parent,) = runs(tmp_path, "sweep")
    leaderboard = (tmp_path / "reports" / parent.data.tags["sweep_id"] / "leaderboard.md").read_text()
    assert "| vae | none |" in leaderboard
