"""The fast path (aebench.fast) against the reference LightningModule: the same steps, weights and metrics;
the reference path works with Lightning's own callbacks as documented; the switch and its fallback."""
import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

from aebench.errors import ConfigError
from aebench.fast import FastAutoencoder, choose_path
from aebench.models import Autoencoder, undercomplete
from aebench.run.plan import plan_run
from aebench.run.train import train


def trained(cfg):
    plan = plan_run(cfg)
    plan.fit()
    return plan


@pytest.mark.parametrize("overrides", [
    ["model=undercomplete"],
    ["model=deep", "regularizer=l2"],
    ["model=undercomplete", "regularizer=denoising"],          # random corruption: the same draws, in order
    ["model=undercomplete", "regularizer=contractive"],        # the hand-written gradient
    ["model=deep", "regularizer=contractive"],                 # the chain, with kept layer outputs
    ["model=undercomplete", "regularizer=sparse_kl", "task=inpaint"],
    ["model=vae"],
])
def test_fast_path_trains_the_reference_paths_weights(make_config, overrides):
    """Same initial weights, batches and optimizer: after two epochs the weights and the epoch means agree."""
    fast = trained(make_config(*overrides, "trainer.max_epochs=2", "trainer.fast=true"))
    reference = trained(make_config(*overrides, "trainer.max_epochs=2", "trainer.fast=false"))
    assert isinstance(fast.path.module, FastAutoencoder) and reference.path.module is reference.model
    for (name, one), other in zip(fast.model.named_parameters(), reference.model.parameters()):
        assert torch.allclose(one, other, rtol=1e-4, atol=1e-5), name
    for name in ["val/loss", *fast.model.term_names]:
        assert fast.trainer.callback_metrics[name].item() == pytest.approx(
            reference.trainer.callback_metrics[name].item(), rel=1e-4, abs=1e-7), name


def test_both_paths_log_the_same_run(make_config, client):
    """Every epoch's train/loss and val/loss with the epoch as step, the same test metrics, the path as a tag."""
    runs = {fast: train(make_config("trainer.max_epochs=3", f"trainer.fast={fast}")) for fast in (True, False)}
    for metric in ("train/loss", "val/loss"):
        histories = [[(m.step, m.value) for m in client.get_metric_history(runs[fast].run_id, metric)]
                     for fast in (True, False)]
        assert [step for step, _ in histories[0]] == [step for step, _ in histories[1]] == [0, 1, 2]
        assert [value for _, value in histories[0]] == pytest.approx([value for _, value in histories[1]], rel=1e-4)
    for metric in ("test/mse", "test/psnr", "test/ssim", "test/jacobian_frobenius"):
        assert runs[True].metrics[metric] == pytest.approx(runs[False].metrics[metric], rel=1e-4), metric
    assert client.get_run(runs[True].run_id).data.tags["aebench.training_path"] == "fast"
    assert client.get_run(runs[False].run_id).data.tags["aebench.training_path"] == "reference"


def test_reference_path_early_stopping_and_checkpoints_as_lightning_documents(make_config, tmp_path):
    """EarlyStopping on val/loss stops the fit; ModelCheckpoint keeps the best val/loss and restores it."""
    plan = plan_run(make_config("trainer.max_epochs=30", "trainer.fast=false"))
    stopper = EarlyStopping(monitor="val/loss", patience=1, min_delta=1.0)  # no epoch improves by 1.0
    best = ModelCheckpoint(dirpath=tmp_path, monitor="val/loss", mode="min")
    trainer = L.Trainer(max_epochs=30, callbacks=[stopper, best], logger=False, enable_progress_bar=False,
                        enable_model_summary=False, num_sanity_val_steps=0)
    trainer.fit(plan.model, datamodule=plan.datamodule)
    assert stopper.stopped_epoch == 1 and trainer.current_epoch == 2  # stopped after two of thirty epochs
    restored = plan_run(make_config("trainer.fast=false")).model
    restored.load_state_dict(torch.load(best.best_model_path, weights_only=True)["state_dict"])
    val_x = plan.datamodule.inputs("val")
    with torch.no_grad():
        val_loss = restored.validation_loss(val_x, val_x).item()
    assert val_loss == pytest.approx(best.best_model_score.item(), rel=1e-5)


def test_a_model_that_overrides_a_replaced_hook_trains_on_the_reference_path(make_config):
    plan = plan_run(make_config())

    class OwnStep(Autoencoder):
        def training_step(self, x, batch_idx):
            return super().training_step(x, batch_idx)

    model = undercomplete(input_shape=(1, 8, 8), code_dim=4)
    model.__class__ = OwnStep
    path = choose_path(model, plan.datamodule, fast=True, steps_per_call=8)
    assert path.name == "reference" and path.module is model
    assert path.fallback_reason == "OwnStep overrides training_step, which the fast path does not call"
    assert choose_path(plan.model, plan.datamodule, fast=True, steps_per_call=8).name == "fast"


def test_trainer_fast_takes_a_boolean(make_config):
    with pytest.raises(ConfigError, match=r"trainer.fast='sometimes' is not allowed: true or false"):
        plan_run(make_config("trainer.fast=sometimes"))


def test_seed_lists_need_the_fast_path(make_config):
    from aebench.run.train import train_seeds

    with pytest.raises(ConfigError, match="seed=.*a single integer with trainer.fast=false"):
        train_seeds(make_config("seed=[0,1]", "trainer.fast=false"))
