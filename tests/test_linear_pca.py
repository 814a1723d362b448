"""A linear autoencoder trained with MSE reaches PCA's reconstruction error (Baldi & Hornik 1989)."""
import pytest
import torch
from sklearn.decomposition import PCA

from aebench.models.mlp import linear
from aebench.run.plan import build_datamodule
from aebench.run.train import train

CODE_DIM = 8


def pca_test_mse(cfg, code_dim: int) -> float:
    """PCA's test MSE at ``code_dim`` components, fitted on the train split of the run's own seeded split."""
    data = build_datamodule(cfg)
    train_x, test_x = data.inputs("train").flatten(1).double().numpy(), data.inputs("test").flatten(1).double().numpy()
    pca = PCA(n_components=code_dim).fit(train_x)
    return ((pca.inverse_transform(pca.transform(test_x)) - test_x) ** 2).mean()


@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.slow
def test_linear_autoencoder_matches_pca(make_config, tied):
    cfg = make_config("model=linear", f"model.code_dim={CODE_DIM}", f"model.tied_weights={tied}",
                      "trainer.max_epochs=100", "trainer.lr=1e-2",
                      "trainer.patience=null", "trainer.lr_schedule=none")  # a fixed budget: what the model can reach
    result = train(cfg)

    assert result.metrics["test/mse"] == pytest.approx(pca_test_mse(cfg, CODE_DIM), rel=0.02)


def test_tied_linear_starts_as_a_projection():
    """The default linear autoencoder (tied) starts with orthonormal encoder rows: W W^T = I."""
    model = linear(input_shape=(20,), code_dim=6)
    weight = model.encoder[1].weight.detach()
    assert torch.allclose(weight @ weight.T, torch.eye(6), atol=1e-5)
    assert not linear(input_shape=(20,), code_dim=6, tied_weights=False).architecture["tied_weights"]


@pytest.mark.slow
def test_default_linear_reaches_pca_on_synthetic_lowrank(make_config):
    """Issue 15's target: with the default training (early stopping, plateau schedule) the linear
    autoencoder's test MSE is within 5 % of PCA's on a rank-8 subspace plus noise, whose PCA error is
    the noise floor. The untied or uniformly started model stops 7-33 % above it (BENCHMARKS.md)."""
    cfg = make_config("dataset=synthetic_lowrank", "model=linear", "trainer.max_epochs=300")
    result = train(cfg)

    assert result.metrics["test/mse"] == pytest.approx(pca_test_mse(cfg, 16), rel=0.05)
