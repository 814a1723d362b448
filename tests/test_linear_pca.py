"""A linear autoencoder trained with MSE reaches PCA's reconstruction error (Baldi & Hornik 1989)."""
import pytest
from sklearn.decomposition import PCA

from aebench.run.plan import build_datamodule
from aebench.run.train import train

CODE_DIM = 8


@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.slow
def test_linear_autoencoder_matches_pca(make_config, tied):
    cfg = make_config("model=linear", f"model.code_dim={CODE_DIM}", f"model.tied_weights={tied}",
                      "trainer.max_epochs=100", "trainer.lr=1e-2",
                      "trainer.patience=null", "trainer.lr_schedule=none")  # a fixed budget: what the model can reach
    result = train(cfg)

    data = build_datamodule(cfg)  # the same seeded split the run used
    train_x, test_x = data.inputs("train").flatten(1).numpy(), data.inputs("test").flatten(1).numpy()
    pca = PCA(n_components=CODE_DIM).fit(train_x)
    pca_mse = ((pca.inverse_transform(pca.transform(test_x)) - test_x) ** 2).mean()

    assert result.metrics["test/mse"] == pytest.approx(pca_mse, rel=0.02)
