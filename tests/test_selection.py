"""Converged runs chosen on validation: early stopping on val/loss, the best epoch's weights restored for
the test, a learning-rate schedule, on both training paths and for seeds trained together."""
from __future__ import annotations

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import EarlyStopping

from aebench.evaluate.selection import BestEpochs
from aebench.models.schedules import PlateauFactor
from aebench.run.plan import plan_run
from aebench.run.train import train, train_seeds

STOPS_EARLY = ["trainer.max_epochs=200", "trainer.patience=3", "trainer.lr=0.05"]


def fitted(cfg):
    plan = plan_run(cfg)
    plan.fit()
    return plan


def val_loss(plan) -> float:
    """The clean objective over the val split, recomputed from the model's weights now."""
    model, total, count = plan.model, 0.0, 0
    with torch.no_grad():
        for number, x in enumerate(plan.datamodule.validation_batches()):
            total += model.validation_loss(model.task.test_input(x, number), x).item() * x.shape[0]
            count += x.shape[0]
    return total / count


def test_best_epochs_stop_after_patience_epochs_without_a_lower_loss():
    """Lightning's EarlyStopping rule (min_delta 0), per row: the real fits below hold single runs to it."""
    epochs = BestEpochs(rows=2, patience=3)
    first = [5.0, 4.0, 4.5, 4.2, 3.9, 4.0, 4.1, 4.05, 3.0]
    second = [5.0, 4.9, 4.8, 4.7, 4.6, 4.5, 4.4, 4.3, 4.2]
    for epoch, losses in enumerate(zip(first, second)):
        epochs.update(epoch, list(losses))
        assert epochs.stopped == [epoch >= 7, False], epoch
    assert epochs.summary(0) == {"train/best_epoch": 4.0, "val/best_loss": 3.9, "train/epochs_trained": 8.0}
    assert epochs.summary(1) == {"train/best_epoch": 8.0, "val/best_loss": 4.2, "train/epochs_trained": 9.0}
    assert not epochs.all_stopped  # the seeds train on until every one has stopped


@pytest.mark.parametrize("fast", [True, False])
def test_early_stopping_restores_the_best_weights(make_config, fast):
    plan = fitted(make_config(*STOPS_EARLY, f"trainer.fast={fast}"))
    chosen = plan.selection()
    assert chosen["train/epochs_trained"] < 200  # it stopped ...
    assert chosen["train/epochs_trained"] == chosen["train/best_epoch"] + 1 + 3  # ... `patience` epochs after its best
    last = plan.trainer.callback_metrics["val/loss"].item()
    assert last > chosen["val/best_loss"]
    assert val_loss(plan) == pytest.approx(chosen["val/best_loss"], rel=1e-5)  # the model holds the best epoch's weights


def test_both_paths_stop_at_the_same_epoch_with_the_same_weights(make_config):
    fast = fitted(make_config(*STOPS_EARLY, "trainer.fast=true"))
    reference = fitted(make_config(*STOPS_EARLY, "trainer.fast=false"))
    assert fast.selection()["train/best_epoch"] == reference.selection()["train/best_epoch"]
    assert fast.selection()["train/epochs_trained"] == reference.selection()["train/epochs_trained"]
    for one, other in zip(fast.model.parameters(), reference.model.parameters()):
        assert torch.allclose(one, other, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("schedule", ["plateau", "cosine"])
def test_the_learning_rate_schedule_is_the_same_on_both_paths(make_config, schedule):
    """lr 0.5 on digits stalls within a few epochs, so the plateau schedule halves the rate."""
    overrides = ["trainer.max_epochs=12", "trainer.patience=null", "trainer.lr=0.5", f"trainer.lr_schedule={schedule}"]
    fast = fitted(make_config(*overrides, "trainer.fast=true"))
    reference = fitted(make_config(*overrides, "trainer.fast=false"))
    rates = [plan.trainer.optimizers[0].param_groups[0]["lr"] for plan in (fast, reference)]
    assert rates[0] == pytest.approx(rates[1]) and rates[0] < 0.5
    for one, other in zip(fast.model.parameters(), reference.model.parameters()):
        assert torch.allclose(one, other, rtol=1e-3, atol=1e-4)


def test_a_run_logs_what_was_selected(make_config, client):
    result = train(make_config(*STOPS_EARLY))
    logged = client.get_run(result.run_id).data
    assert logged.metrics["train/epochs_trained"] == len(client.get_metric_history(result.run_id, "val/loss"))
    assert logged.metrics["train/best_epoch"] < logged.metrics["train/epochs_trained"] - 1
    assert logged.params["trainer.patience"] == "3" and logged.params["trainer.lr_schedule"] == "plateau"


def test_seeds_trained_together_stop_and_select_as_each_would_alone(make_config):
    overrides = [*STOPS_EARLY, "trainer.lr=0.2"]  # a learning rate that stalls: plateaus and early stops
    together = train_seeds(make_config("seed=[0,1]", *overrides))
    for seed, result in zip((0, 1), together):
        alone = train(make_config(f"seed={seed}", *overrides))
        for metric in ("train/best_epoch", "train/epochs_trained"):
            assert result.metrics[metric] == alone.metrics[metric], (seed, metric)
        assert result.metrics["val/best_loss"] == pytest.approx(alone.metrics["val/best_loss"], rel=1e-4)
        assert result.metrics["test/mse"] == pytest.approx(alone.metrics["test/mse"], rel=1e-4)


def test_a_plateau_factor_is_pytorchs_schedule():
    parameter = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([parameter], lr=0.3)
    reference = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=3)
    factor = PlateauFactor()
    for loss in [1.0, 0.9, 0.95, 0.92, 0.91, 0.93, 0.94, 0.96, 0.97, 0.99, 1.0]:
        reference.step(loss)
        factor.step(loss)
        assert 0.3 * factor.factor == pytest.approx(optimizer.param_groups[0]["lr"])
    assert factor.factor < 1.0


def test_layerwise_pretraining_is_not_early_stopped(make_config):
    plan = plan_run(make_config("model=stacked"))
    from aebench.run.plan import build_trainer

    stage = build_trainer(plan.spec, max_epochs=2, select=False)
    assert not any(isinstance(c, (EarlyStopping, L.pytorch.callbacks.Checkpoint)) for c in stage.callbacks)
