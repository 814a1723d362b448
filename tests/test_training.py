"""Every variant on both bundled datasets through the real stack: Hydra -> Lightning -> MLflow."""
import json
import re

import mlflow
import pytest
import torch

from aebench.errors import ConfigError
from aebench.run.train import train, train_seeds

MODELS = ["linear", "undercomplete", "overcomplete", "deep", "conv"]
DATASETS = ["digits", "synthetic_lowrank"]


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("model", MODELS)
def test_variant_trains_and_is_tracked(make_config, client, tracking_uri, model, dataset):
    cfg = make_config(f"model={model}", f"dataset={dataset}")
    if model == "conv" and dataset == "synthetic_lowrank":
        with pytest.raises(ConfigError, match="model='conv'.*images.*synthetic_lowrank.*\\(64,\\)"):
            train(cfg)
        return
    result = train(cfg)
    assert result.status == "FINISHED"

    history = [m.value for m in client.get_metric_history(result.run_id, "train/loss")]
    assert len(history) == 3 and history[-1] < history[0], history

    mlflow.set_tracking_uri(tracking_uri)
    runs = mlflow.search_runs(experiment_names=[make_config.experiment])
    assert len(runs) == 1
    row = runs.iloc[0]
    assert row["status"] == "FINISHED"
    assert row["tags.dataset"] == dataset and row["tags.model"] == model and row["tags.regularizer"] == "none"
    # the param holds the real code size, also where the config leaves it to the model (overcomplete: null)
    real_width = cfg.model.code_dim if cfg.model.code_dim is not None else 2 * 64  # both datasets: 64 values
    assert row["params.model.code_dim"] == str(real_width) == str(int(result.metrics["model/code_dim"]))
    expected = ["test/mse", "test/psnr", "test/loss", "train/fit_seconds", "model/num_parameters"]
    expected += ["test/ssim"] if dataset == "digits" else []
    for metric in expected:
        assert row[f"metrics.{metric}"] == pytest.approx(result.metrics[metric], rel=1e-6), metric
    assert row["metrics.val/loss"] > 0 and row["metrics.train/loss"] == pytest.approx(history[-1])
    if dataset == "synthetic_lowrank":
        assert "metrics.test/ssim" not in runs.columns or runs["metrics.test/ssim"].isna().all()
    artifacts = {a.path for a in client.list_artifacts(result.run_id)}
    assert "config.yaml" in artifacts
    assert ("reconstructions.png" in artifacts) == (dataset == "digits")


def test_same_seed_gives_identical_metrics(make_config):
    first = train(make_config("model=deep", "seed=7"))
    second = train(make_config("model=deep", "seed=7"))
    other = train(make_config("model=deep", "seed=8"))
    keys = ["test/mse", "test/psnr", "test/ssim", "test/loss"]
    assert [first.metrics[k] for k in keys] == [second.metrics[k] for k in keys]
    assert first.metrics["test/mse"] != other.metrics["test/mse"]


def test_psnr_and_mse_agree_with_their_definitions(make_config):
    """test/psnr is the mean over images of 10 log10(1 / per-image MSE); test/mse the mean over values."""
    import torch

    from aebench.run.plan import plan_run

    cfg = make_config("model=undercomplete")
    result = train(cfg)
    plan = plan_run(cfg)  # same seed: the same trained weights are reproduced below
    plan.fit()
    x = plan.datamodule.inputs("test")
    with torch.no_grad():
        reconstruction = plan.model.eval()(x)
    per_image = ((reconstruction - x) ** 2).flatten(1).mean(1)
    assert result.metrics["test/mse"] == pytest.approx(per_image.mean().item(), rel=1e-4)
    assert result.metrics["test/psnr"] == pytest.approx((10 * torch.log10(1 / per_image)).mean().item(), rel=1e-4)


@pytest.mark.filterwarnings("ignore:You passed `Trainer\\(accelerator='cpu', precision='16-mixed'\\)`")
@pytest.mark.parametrize("precision", ["bf16-mixed", "16-mixed"])
@pytest.mark.parametrize("model,regularizer", [("deep", "contractive"),
                                               pytest.param("conv", "contractive", marks=pytest.mark.slow),
                                               ("undercomplete", "sparse_kl"),
                                               ("undercomplete", "contractive")])  # the closed form, gradient by hand
def test_mixed_precision_trains(make_config, precision, model, regularizer):
    """Mixed precision (on the CPU Lightning runs 16-mixed as bf16): losses and metrics stay finite."""
    import math

    result = train(make_config(f"model={model}", f"regularizer={regularizer}", f"trainer.precision={precision}"))
    assert result.status == "FINISHED"
    assert all(math.isfinite(result.metrics[k]) for k in ("test/mse", "test/psnr", "test/jacobian_frobenius"))


@pytest.mark.parametrize("regularizer", ["sparse_kl", "contractive"])
def test_mixed_precision_trains_stacked_seeds(make_config, regularizer):
    """Seeds trained together in bf16-mixed (batched products under autocast): each seed's run is finite."""
    import math

    results = train_seeds(make_config("seed=[0,1]", f"regularizer={regularizer}", "trainer.precision=bf16-mixed"))
    assert [r.status for r in results] == ["FINISHED", "FINISHED"]
    for result in results:
        assert all(math.isfinite(result.metrics[k]) for k in ("test/mse", "test/psnr"))


def test_one_scalar_descends_what_the_plain_backward_descends():
    """Lightning's backward (data parallel, fp16 scaling) gets one scalar: the same gradient as backward
    from several roots, each weighed by its gradient."""
    from aebench.fast.steps import one_scalar

    torch.manual_seed(0)
    weight = torch.randn(3, 4, requires_grad=True)
    values, penalty = (weight * torch.randn(3, 4)).pow(2), weight.abs().sum(1)
    roots, gradients = [values, penalty], [torch.full_like(values, 0.25), torch.ones(3)]
    (plain,) = torch.autograd.grad(roots, [weight], gradients, retain_graph=True)
    (scalar,) = torch.autograd.grad(one_scalar(roots, gradients), [weight])
    assert torch.allclose(plain, scalar)
    assert one_scalar([values.sum(), penalty.sum()], None).item() == pytest.approx((values.sum() + penalty.sum()).item())


def test_trainer_threads_hold_for_the_run_only(make_config, client):
    """trainer.threads sets torch's CPU threads while the run trains, then gives back the caller's;
    the run is the same run (the same run_key) on any number of threads."""
    from aebench.run.plan import cpu_threads
    from aebench.sweep.keys import run_key

    before = torch.get_num_threads()
    one, default = make_config("trainer.threads=1"), make_config()
    with cpu_threads(one):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    assert run_key(one) == run_key(default)
    result = train(one)
    assert result.status == "FINISHED" and torch.get_num_threads() == before
    assert client.get_run(result.run_id).data.params["trainer.threads"] == "1"


def test_a_constant_term_adds_nothing_to_the_step(make_config):
    """A penalty that depends on no parameter is logged, and the step is the step of the other terms."""
    from aebench.fast import choose_path
    from aebench.run.plan import build_trainer, plan_run

    plans = [plan_run(make_config("trainer.max_epochs=1")) for _ in range(2)]
    with_constant = plans[0].model
    own_terms = with_constant.loss_terms
    with_constant.loss_terms = lambda batch: [*own_terms(batch), torch.tensor(0.5)]
    with_constant.term_names = [*with_constant.term_names, "train/penalty/constant"]
    trainers = []
    for plan in plans:
        path = choose_path(plan.model, plan.datamodule, fast=True, steps_per_call=4)
        trainers.append(build_trainer(plan.spec))
        trainers[-1].fit(path.module, datamodule=path.datamodule)
    assert trainers[0].callback_metrics["train/penalty/constant"].item() == 0.5
    for one, other in zip(plans[0].model.parameters(), plans[1].model.parameters()):
        assert torch.equal(one, other)


def test_the_mlflow_ui_sees_a_training_experiment_with_its_datasets_and_source(make_config, client):
    result = train(make_config("trainer.max_epochs=1"))
    run = client.get_run(result.run_id)
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"  # opens on its runs table
    inputs = {tag.value: item.dataset for item in run.inputs.dataset_inputs for tag in item.tags
              if tag.key == "mlflow.data.context"}
    assert sorted(inputs) == ["test", "training", "validation"]
    shapes = {context: json.loads(dataset.profile)["shape"] for context, dataset in inputs.items()}
    assert all(shape[1:] == [1, 8, 8] for shape in shapes.values())  # digits, 8 x 8 images
    assert sum(shape[0] for shape in shapes.values()) == 1797  # every sample in one split
    assert inputs["training"].name == "digits/train" and json.loads(inputs["training"].source)["uri"] == "aebench:digits"
    assert len({dataset.digest for dataset in inputs.values()}) == 3
    assert run.data.tags["mlflow.source.name"] == "python -m aebench"


@pytest.mark.parametrize("flush_seconds", [0, 2, 3600])
def test_a_finished_run_holds_every_epoch_it_logged(make_config, client, flush_seconds):
    """Epoch metrics kept in memory (up to an hour here) are all written before the run is FINISHED."""
    result = train(make_config("trainer.max_epochs=7", "trainer.patience=null", f"tracking.flush_seconds={flush_seconds}"))
    run = client.get_run(result.run_id)
    assert run.info.status == "FINISHED" and run.data.metrics["train/epochs_trained"] == 7
    for name in ("train/loss", "val/loss"):
        assert [m.step for m in client.get_metric_history(result.run_id, name)] == list(range(7))


@pytest.mark.parametrize("fast", [True, False])
def test_progress_is_one_readable_line_per_epoch(make_config, capsys, fast):
    train(make_config("trainer.max_epochs=3", "trainer.patience=null", "trainer.progress_bar=true",
                      f"trainer.fast={str(fast).lower()}"))
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("epoch ")]
    pattern = re.compile(r"^epoch (\d)/3 \| train [\d.e-]+ \| val [\d.e-]+ \(best [\d.e-]+ at epoch \d\) \| "
                         r"[\d,]+ samples/s \| [\d.]+ s$")
    assert [int(pattern.match(line).group(1)) for line in lines] == [1, 2, 3], lines
