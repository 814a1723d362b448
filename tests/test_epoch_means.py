"""Epoch means: sample-weighted over steps of unequal size, per seed, and the logged val/loss exact."""
import numpy as np
import pytest
import torch

from aebench.data import datamodule as datamodule_module
from aebench.fast.epoch_means import EpochMeans
from aebench.run.plan import plan_run


def test_weighted_means_match_brute_force():
    rng = np.random.default_rng(0)
    steps = rng.normal(size=(5, 2))
    weights = [64, 64, 64, 64, 13]  # the last mini-batch is short
    means = EpochMeans(["a", "b"])
    for row, weight in zip(steps, weights):
        means.update([torch.tensor(v, dtype=torch.float32) for v in row], weight)
    totals = means.totals()
    assert totals.shape == (means.width,) and means.width == 3
    (result,) = means.means(totals.tolist())
    expected = np.average(steps.astype(np.float32), axis=0, weights=weights)
    assert result == pytest.approx({"a": expected[0], "b": expected[1]}, rel=1e-6)
    assert means.means(means.totals().tolist()) == []  # reset: an epoch without steps has no means


def test_one_row_per_seed():
    rng = np.random.default_rng(1)
    steps = rng.normal(size=(4, 3, 2)).astype(np.float32)  # (steps, seeds, terms)
    weights = [32, 32, 32, 7]
    means = EpochMeans(["loss", "penalty"], rows=3)
    for step, weight in zip(steps, weights):
        means.update(list(torch.from_numpy(step).T), weight)  # a (seeds,) tensor per term
    rows = means.means(means.totals().tolist())
    expected = np.average(steps, axis=0, weights=weights)
    logged = np.array([[row["loss"], row["penalty"]] for row in rows])
    np.testing.assert_allclose(logged, expected, rtol=1e-6)


@pytest.mark.parametrize("values_per_batch", [None, 50 * 64])
def test_logged_val_loss_is_the_loss_over_the_whole_val_split(make_config, monkeypatch, values_per_batch):
    """One host sync an epoch reads the train and val means together; the last val/loss must equal the
    trained model's mean squared error over every value of the val split, in one validation batch
    (the default for digits) or cut into batches of 50 samples and a shorter rest."""
    if values_per_batch:
        monkeypatch.setattr(datamodule_module, "VALIDATION_VALUES", values_per_batch)
    plan = plan_run(make_config("trainer.max_epochs=2", "trainer.batch_size=16"))
    plan.fit()
    val_x = plan.datamodule.inputs("val")
    batches = list(plan.datamodule.validation_batches())
    assert [len(x) for x in batches] == ([50, 50, 50, 30] if values_per_batch else [len(val_x)])
    with torch.no_grad():
        expected = torch.nn.functional.mse_loss(plan.model(val_x), val_x).item()
    assert plan.trainer.callback_metrics["val/loss"].item() == pytest.approx(expected, rel=1e-5)
    assert set(plan.trainer.callback_metrics) >= {"train/loss", "val/loss"}
