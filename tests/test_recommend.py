"""task=recommend on rating matrices: the data, the loss on rated entries only, the held-out ratings of
new users, and the RMSE against the item-mean and truncated-SVD baselines."""
import numpy as np
import pytest
import torch

from aebench.data import load_dataset
from aebench.errors import ConfigError, DataError
from aebench.fast.seed_batched import SeedBatchedAutoencoder
from aebench.models import create_model
from aebench.run.plan import plan_run
from aebench.run.train import train
from aebench.tasks import build_task

AUTOREC = ["task=recommend", "dataset=synthetic_ratings", "model.code_dim=32", "regularizer=l2"]


def test_synthetic_ratings_are_stars_over_five_with_zeros_for_missing():
    arrays = load_dataset("synthetic_ratings", n_users=200, n_items=80, density=0.1)
    x = arrays.x.numpy()
    assert arrays.ratings and arrays.unit_range and x.shape == (200, 80)
    stars = x * 5
    assert np.allclose(stars, np.rint(stars), atol=1e-5) and set(np.unique(np.rint(stars))) <= {0, 1, 2, 3, 4, 5}
    assert (np.count_nonzero(x, axis=1) >= 5).all()
    assert 0.07 < np.count_nonzero(x) / x.size < 0.15


def test_movielens_reads_u_data_and_refuses_a_corrupt_file(tmp_path):
    folder = tmp_path / "movielens"
    folder.mkdir()
    (folder / "u.data").write_text("1\t2\t4\t881250949\n3\t1\t5\t891717742\n1\t3\t1\t878887116\n")
    arrays = load_dataset("movielens", root=str(tmp_path))
    expected = np.zeros((3, 3), dtype=np.float32)
    expected[0, 1], expected[2, 0], expected[0, 2] = 0.8, 1.0, 0.2
    assert arrays.ratings and np.array_equal(arrays.x.numpy(), expected)
    (folder / "u.data").write_text("1\t2\t7\t881250949\n")
    with pytest.raises(DataError, match="is corrupt: .*ratings from 1 to 5 stars"):
        load_dataset("movielens", root=str(tmp_path))
    (folder / "u.data").write_text("user item rating\n")
    with pytest.raises(DataError, match="is corrupt: not MovieLens's tab-separated"):
        load_dataset("movielens", root=str(tmp_path))
    with pytest.raises(DataError, match="needs u.data .* or set dataset.download=true"):
        load_dataset("movielens", root=str(tmp_path / "elsewhere"))


def test_the_training_loss_counts_rated_entries_only_and_val_loss_the_hidden_ones():
    task = build_task({"name": "recommend", "holdout": 0.3})
    model = create_model("undercomplete", input_shape=(12,), code_dim=4, task=task)
    x = torch.tensor(np.random.default_rng(0).choice([0, 0, 0.2, 0.6, 1.0], size=(6, 12)), dtype=torch.float32)
    torch.manual_seed(0)
    loss = model.loss_terms(x)[0]
    with torch.no_grad():
        output = model(x)
    rated = x > 0
    assert torch.allclose(loss, ((output - x) ** 2)[rated].mean(), atol=1e-6)
    inputs = task.test_input(x, 0)
    hidden = rated & (inputs == 0)
    assert torch.equal(task.scoring_mask(inputs, x), hidden) and hidden.any() and (rated & ~hidden).any()
    assert torch.equal(inputs[~hidden], x[~hidden])  # only rated entries are hidden, the rest passes through
    with torch.no_grad():
        assert torch.allclose(model.validation_loss(inputs, x), ((model(inputs) - x) ** 2)[hidden].mean(), atol=1e-6)
    assert not SeedBatchedAutoencoder.supports(model)  # the seed-batched loss counts every value: those runs take vmap


def test_held_out_rmse_and_its_baselines_against_a_direct_computation(make_config):
    plan = plan_run(make_config(*AUTOREC))
    plan.fit()
    model, data, task = plan.model.eval(), plan.datamodule, plan.model.task
    metrics, _ = task.evaluate(model, data)
    batches = data.numbered_test_batches()
    x = torch.cat([batch for _, batch in batches]).numpy()
    inputs = torch.cat([task.test_input(batch, index) for index, batch in batches]).numpy()
    hidden = (x > 0) & (inputs == 0)
    with torch.no_grad():
        predicted = np.clip(model(torch.from_numpy(inputs)).numpy(), 0.2, 1.0)
    assert metrics["test/recommend_hidden_ratings"] == hidden.sum()
    assert metrics["test/recommend_rmse"] == pytest.approx(5 * np.sqrt(((predicted - x)[hidden] ** 2).mean()), rel=1e-4)
    train_x = data.inputs("train").numpy()
    rated = train_x > 0
    means = np.where(rated.sum(0) > 0, (train_x * rated).sum(0) / np.maximum(rated.sum(0), 1), train_x[rated].mean())
    expected_mean = 5 * np.sqrt(((np.broadcast_to(means, x.shape) - x)[hidden] ** 2).mean())
    assert metrics["test/recommend_mean_rmse"] == pytest.approx(expected_mean, rel=1e-4)
    _, _, vh = np.linalg.svd(np.where(rated, train_x, means) - means, full_matrices=False)
    factors = vh[:32]
    svd = np.clip((np.where(inputs > 0, inputs, means) - means) @ factors.T @ factors + means, 0.2, 1.0)
    assert metrics["test/recommend_svd_rmse"] == pytest.approx(5 * np.sqrt(((svd - x)[hidden] ** 2).mean()), rel=1e-3)


def test_autorec_beats_item_means_and_truncated_svd_on_held_out_ratings(make_config, client):
    result = train(make_config(*AUTOREC, "trainer.max_epochs=100", fast=False))
    metrics = result.metrics
    assert metrics["test/recommend_rmse"] < metrics["test/recommend_svd_rmse"] < metrics["test/recommend_mean_rmse"]
    assert metrics["test/recommend_rmse"] < 0.95 * metrics["test/recommend_mean_rmse"], metrics
    assert "test/psnr" not in metrics  # every value's PSNR would score the missing ratings
    history = client.get_metric_history(result.run_id, "val/loss")
    assert len(history) == metrics["train/epochs_trained"]


def test_recommend_needs_a_rating_matrix(make_config):
    with pytest.raises(ConfigError, match="task='recommend' is not allowed: .*needs a user x item rating matrix"):
        plan_run(make_config("task=recommend"))


def test_a_stack_on_ratings_trains_from_random_weights_only(make_config):
    """Its layer-wise stages would count every value: missing ratings learnt as zeros."""
    with pytest.raises(ConfigError, match="model.pretrain='autoencoder' is not allowed: none for task=recommend"):
        plan_run(make_config("task=recommend", "dataset=synthetic_ratings", "model=stacked"))
    plan_run(make_config("task=recommend", "dataset=synthetic_ratings", "model=stacked", "model.pretrain=none"))
    task = build_task({"name": "recommend"})
    with pytest.raises(ConfigError, match="model.pretrain='rbm' is not allowed"):
        create_model("stacked", input_shape=(20,), code_dim=4, task=task, pretrain="rbm", loss="bce")
