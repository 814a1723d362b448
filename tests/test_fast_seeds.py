"""Several seeds trained together as one vectorised model, each seed its own run."""
import pytest
import torch

from aebench.errors import ConfigError
from aebench.fast.seeds import SeedEnsemble
from aebench.run.plan import plan_run, seed_config
from aebench.run.train import train, train_seeds


def test_vectorised_loss_terms_equal_each_models_own(make_config):
    """Without randomness, stacking changes nothing: seed k's terms are model k's terms."""
    cfg = make_config("model=deep", "regularizer=combined", "+regularizer@regularizer.terms.l2=l2",
                      "+regularizer@regularizer.terms.contractive=contractive",
                      "+regularizer@regularizer.terms.sparse_kl=sparse_kl")
    plans = [plan_run(seed_config(cfg, seed)) for seed in (0, 1, 2)]
    ensemble = SeedEnsemble([p.model for p in plans], [0, 1, 2])
    xs = torch.rand(3, 16, 1, 8, 8)
    together = ensemble.vmapped_loss_terms(xs)
    for index, plan in enumerate(plans):
        alone = torch.stack(plan.model.loss_terms(xs[index]))
        assert torch.allclose(together[index], alone, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("overrides", [
    ["model=deep", "regularizer=combined", "+regularizer@regularizer.terms.l2=l2",
     "+regularizer@regularizer.terms.sparse_kl=sparse_kl"],
    ["model=undercomplete", "model.tied_weights=true", "regularizer=sparse_l1"],
    ["model=linear", "model.loss=l1"],
    ["model=overcomplete", "model.loss=bce", "regularizer=l2"],
    ["model=deep", "dataset=patches", "task=colorize"],
    ["model=undercomplete", "regularizer=contractive"],  # the closed form, on stacked encoder matrices
    ["model=overcomplete", "model.tied_weights=true", "model.activation=tanh", "regularizer=contractive"],
])
def test_batched_products_give_each_seeds_own_loss_terms(make_config, overrides):
    """Fully connected models skip vmap: bmm over stacked weights gives model k's terms for seed k, and
    backward from the step loss's roots gives model k's own gradient."""
    plans = [plan_run(seed_config(make_config(*overrides), seed)) for seed in (0, 1, 2)]
    ensemble = SeedEnsemble([p.model for p in plans], [0, 1, 2])
    assert ensemble.batched is not None
    xs = torch.rand(3, 16, *plans[0].datamodule.sample_shape)
    step_loss = ensemble.batched.step_loss(list(ensemble.stacked), xs)
    together = torch.stack(step_loss.terms(), dim=1)
    torch.autograd.backward(*step_loss.roots())
    for index, plan in enumerate(plans):
        terms = plan.model.loss_terms(xs[index])
        alone = torch.stack(terms).detach()
        assert torch.allclose(together[index], alone, rtol=1e-5, atol=1e-7), (together[index], alone)
        sum(terms).backward()
        for name, stacked in zip(ensemble.names, ensemble.stacked):
            own = dict(plan.model.named_parameters())[name]
            assert torch.allclose(ensemble.batched.to_model(name, stacked.grad)[index], own.grad,
                                  rtol=1e-4, atol=1e-6), name
    validation = ensemble.batched.validation_loss(list(ensemble.stacked), plans[0].model.task.clean_input(xs[0]),
                                                  xs[0])
    for index, plan in enumerate(plans):
        model = plan.model
        alone = model.reconstruction_loss(model.decoder(model.code_of(model.task.clean_input(xs[0]))), xs[0])
        assert validation[index].item() == pytest.approx(alone.item(), rel=1e-5)


@pytest.mark.parametrize("group", [4, 5])  # 13 mini-batches: the short last one alone, or with full ones
def test_seed_batches_are_each_seeds_own_batches(group):
    from aebench.data.batches import TensorBatches
    from aebench.fast.seeds import SeedBatches

    data = torch.randint(0, 255, (203, 1, 4, 4), dtype=torch.uint8)
    together = SeedBatches(data, 16, [3, 5, 9], group=group)
    alone = [TensorBatches(data, 16, shuffle=True, seed=seed, group=group) for seed in (3, 5, 9)]
    for _ in range(2):  # two epochs: each reshuffles as a run alone would
        groups = list(together)
        assert len(groups) == len(together) == len(alone[0])
        for index, stream in enumerate(alone):
            own = [batch for group in stream for batch in group]
            stacked = [batch[index] for group in groups for batch in group]
            assert len(own) == len(stacked) and all(torch.equal(a, b) for a, b in zip(own, stacked))
        assert all(batch.is_contiguous() for group in groups for batch in group)


def test_models_the_batched_products_cannot_run_keep_vmap(make_config):
    for overrides in (["model=conv"], ["model=deep", "regularizer=contractive"]):
        plans = [plan_run(seed_config(make_config(*overrides), seed)) for seed in (0, 1)]
        assert SeedEnsemble([p.model for p in plans], [0, 1]).batched is None


def test_seed_list_trains_one_run_per_seed_as_if_alone(make_config, client):
    cfg = make_config("seed=[0,1,2]", "trainer.max_epochs=4")
    results = train_seeds(cfg)
    assert [r.status for r in results] == ["FINISHED"] * 3 and len({r.run_id for r in results}) == 3
    for seed, result in zip((0, 1, 2), results):
        run = client.get_run(result.run_id)
        assert run.data.tags["seed"] == str(seed) and run.data.tags["aebench.vectorized_members"] == "3"
        assert run.data.params["seed"] == str(seed)
        assert [m.step for m in client.get_metric_history(result.run_id, "val/loss")] == [0, 1, 2, 3]
        alone = train(make_config(f"seed={seed}", "trainer.max_epochs=4"))  # same init, same batches
        assert result.metrics["test/mse"] == pytest.approx(alone.metrics["test/mse"], rel=1e-4)
    assert results[0].metrics["test/mse"] != results[1].metrics["test/mse"]


def test_seed_lists_that_cannot_be_vectorised_are_refused(make_config):
    with pytest.raises(ConfigError, match="vector-Jacobian products cannot be vectorised over seeds"):
        train_seeds(make_config("seed=[0,1]", "model=conv", "regularizer=contractive"))
    with pytest.raises(ConfigError, match="layer-wise stages are not vectorised"):
        train_seeds(make_config("seed=[0,1]", "model=stacked"))
    with pytest.raises(ConfigError, match="a list of distinct integers"):
        train_seeds(make_config("seed=[3,3]"))


def test_seeds_of_a_deep_encoder_train_together_with_the_estimated_contractive_penalty(make_config, client):
    """The chain's estimate runs forward (no input gradient), so its seeds vectorise: each its own run."""
    import math

    results = train_seeds(make_config("seed=[0,1]", "model=deep", "regularizer=contractive",
                                      "regularizer.projections=1"))
    assert [r.status for r in results] == ["FINISHED", "FINISHED"]
    penalties = [[m.value for m in client.get_metric_history(r.run_id, "train/penalty/contractive")] for r in results]
    assert all(len(p) == 3 and all(math.isfinite(v) and v > 0 for v in p) for p in penalties)
    assert penalties[0] != penalties[1]


def test_diverging_seeds_end_failed(make_config, client):
    results = train_seeds(make_config("seed=[0,1]", "trainer.lr=1e30", "trainer.max_epochs=2"))
    assert [r.status for r in results] == ["FAILED", "FAILED"]
    for result in results:
        assert "TrainingDiverged" in client.get_run(result.run_id).data.tags["failure_reason"]


def test_only_reconstruct_without_corruption_feeds_the_batch_itself():
    """The batched products skip reshaping for the task only where nothing transforms the input."""
    from aebench.regularizers import build_regularizers
    from aebench.tasks import build_task, list_tasks

    keeping = [name for name in list_tasks() if build_task({"name": name}).keeps_input]
    assert keeping == ["anomaly", "compress", "recommend", "reconstruct", "visualize"]
    corrupting = {r.name: r.corrupts for r in build_regularizers({"name": "combined", "terms": {
        "denoising": {"name": "denoising"}, "l2": {"name": "l2"}, "sparse_kl": {"name": "sparse_kl"}}})}
    assert corrupting == {"denoising": True, "l2": False, "sparse_kl": False}


def test_the_closed_form_contractive_penalty_also_runs_under_vmap(make_config, monkeypatch):
    """Its hand-written gradient is an autograd.Function vmap cannot take: under vmap the traced formula
    gives each seed its own terms and gradient."""
    from aebench.fast.seed_batched import SeedBatchedAutoencoder

    monkeypatch.setattr(SeedBatchedAutoencoder, "supports", staticmethod(lambda model: False))
    plans = [plan_run(seed_config(make_config("regularizer=contractive"), seed)) for seed in (0, 1)]
    ensemble = SeedEnsemble([p.model for p in plans], [0, 1])
    assert ensemble.batched is None
    xs = torch.rand(2, 16, *plans[0].datamodule.sample_shape)
    together = ensemble.vmapped_loss_terms(xs)
    together.sum().backward()
    for index, plan in enumerate(plans):
        terms = plan.model.loss_terms(xs[index])
        assert torch.allclose(together[index], torch.stack(terms).detach(), rtol=1e-5, atol=1e-7)
        sum(terms).backward()
        for stacked, (name, own) in zip(ensemble.stacked, plan.model.named_parameters()):
            assert torch.allclose(stacked.grad[index], own.grad, rtol=1e-4, atol=1e-7), name


@pytest.mark.parametrize("overrides, random_inputs", [
    (["regularizer=l2"], False), (["regularizer=denoising"], True), (["regularizer=sparse_kl_denoising"], True),
    (["task=inpaint"], True), (["task=denoise"], True), (["task=compress"], False)])
def test_vectorised_members_that_draw_random_inputs_have_keys_of_their_own(make_config, overrides, random_inputs):
    """Where training draws random inputs, a vectorised seed's key names its list (never the single run's):
    stores written before members drew their own inputs hold members drawn with the other seeds."""
    from aebench.sweep.keys import member_key, run_key

    cfg = make_config(*overrides)
    alone, member = run_key(seed_config(cfg, 0)), member_key(seed_config(cfg, 0), [0, 1])
    assert (member != alone) == random_inputs
    assert (member_key(seed_config(cfg, 0), [0, 2]) != member) == random_inputs  # depends on the list's other seeds


@pytest.mark.parametrize("model, regularizer", [("undercomplete", "l2"), ("overcomplete", "sparse_l1"),
                                                ("undercomplete", "sparse_kl"), ("conv", "sparse_kl")])
def test_trials_that_differ_in_learning_rate_and_weight_train_together_as_if_alone(make_config, client, model,
                                                                                   regularizer):
    """Members with their own learning rates and penalty weights (a tuned sweep's trials), and sparse_kl's
    own targets, are each the run trained alone, up to float rounding: the batched products (fully
    connected) and vmap (conv)."""
    from aebench.run.train import train_members

    settings = [("1e-2", "1e-3", "0.05"), ("3e-3", "3e-2", "0.2"), ("2e-2", "1e-4", "0.01")]
    configs = [make_config(f"model={model}", f"regularizer={regularizer}", f"trainer.lr={lr}",
                           f"regularizer.weight={weight}", "seed=5", "trainer.max_epochs=4", "trainer.patience=null",
                           *([f"regularizer.target={target}"] if regularizer == "sparse_kl" else []))
               for lr, weight, target in settings]
    results = train_members(configs)
    assert [r.status for r in results] == ["FINISHED"] * 3
    name = f"train/penalty/{regularizer}"
    for config, result in zip(configs, results):
        alone = train(config)
        assert client.get_run(result.run_id).data.tags["aebench.vectorized_members"] == "3"
        assert result.metrics["test/mse"] == pytest.approx(alone.metrics["test/mse"], rel=2e-3)
        together = [m.value for m in client.get_metric_history(result.run_id, name)]
        own = [m.value for m in client.get_metric_history(alone.run_id, name)]
        assert together == pytest.approx(own, rel=2e-3)
    assert len({round(r.metrics["test/mse"], 6) for r in results}) == 3


def test_a_member_that_stops_is_retired_and_the_others_train_on(make_config, client):
    """Early stopping per member: a member whose val/loss stops improving leaves the vectorised model (its
    run ends at its own epoch, with its best weights), while the others train on as they would alone."""
    from aebench.run.train import train_members

    lrs = ["3e-2", "1e-1", "5e-2"]  # alone, 3e-2 trains all 25 epochs (its plateau schedule halving it), 1e-1 stops
    # after 10 and 5e-2 after 17: a middle row retired first, so the member after it changes rows
    configs = [make_config(f"trainer.lr={lr}", "seed=2", "trainer.max_epochs=25", "trainer.patience=4",
                           "trainer.lr_schedule=plateau") for lr in lrs]
    results = train_members(configs)
    epochs = [int(r.metrics["train/epochs_trained"]) for r in results]
    for config, result, trained in zip(configs, results, epochs):
        alone = train(config)
        assert trained == int(alone.metrics["train/epochs_trained"])
        assert len(client.get_metric_history(result.run_id, "val/loss")) == trained
        assert result.metrics["val/best_loss"] == pytest.approx(alone.metrics["val/best_loss"], rel=1e-3)
        assert result.metrics["test/mse"] == pytest.approx(alone.metrics["test/mse"], rel=1e-3)
    assert epochs[1] < epochs[2] < epochs[0]  # the middle member retired first, the last one next


def test_members_that_differ_in_more_than_seed_lr_and_weight_are_refused(make_config):
    from aebench.run.train import train_members

    with pytest.raises(ConfigError, match="differ only in seed, trainer.lr, regularizer.weight"):
        train_members([make_config("model=deep"), make_config("model=deep", "model.hidden_dims=[32]")])
    with pytest.raises(ConfigError, match="regularizer.weight"):
        train_members([make_config("regularizer=l2", "regularizer.weight=0"),
                       make_config("regularizer=l2", "regularizer.weight=1e-3")])


def test_a_diverging_member_fails_alone_and_the_others_train_on(make_config, client):
    from aebench.run.train import train_members

    configs = [make_config(f"trainer.lr={lr}", "seed=3", "trainer.max_epochs=4") for lr in ("1e30", "1e-2")]
    diverged, kept = train_members(configs)
    assert diverged.status == "FAILED" and "TrainingDiverged" in client.get_run(diverged.run_id).data.tags["failure_reason"]
    assert kept.status == "FINISHED"
    assert kept.metrics["test/mse"] == pytest.approx(train(configs[1]).metrics["test/mse"], rel=1e-3)


@pytest.mark.parametrize("overrides", [["model=vae"],
                                       ["model=deep", "regularizer=contractive", "regularizer.projections=1"]])
def test_members_that_draw_at_random_are_refused_where_each_must_be_its_run_alone(make_config, overrides):
    """A tuned sweep's trials keep their trial's run key, so they train together only where nothing in training
    but their inputs is drawn at random (vmap draws a penalty estimate's or a sample's numbers for each member,
    not those of its run alone)."""
    from aebench.run.train import train_members

    configs = [make_config(*overrides, f"trainer.lr={lr}") for lr in ("1e-2", "3e-3")]
    with pytest.raises(ConfigError, match="draw nothing at random"):
        train_members(configs, as_alone=True)


def test_member_settings_follow_the_members_that_train_on(make_config):
    """sparse_kl's target per member: each row of a step reads its own member's target, also once a middle
    member has been retired (rows shift up)."""
    from aebench.fast.member_settings import MemberSettings

    targets = [0.05, 0.2, 0.01]
    plans = [plan_run(make_config("regularizer=sparse_kl", f"regularizer.target={t}")) for t in targets]
    settings = MemberSettings([plan.model for plan in plans])
    template = plans[0].model.regularizers[0]
    with settings.applied():
        assert template.target.tolist() == pytest.approx(targets)
    assert template.target == 0.05  # the template's own value is back after the step
    settings.retain([0, 2], torch.device("cpu"))
    with settings.applied():
        assert template.target.tolist() == pytest.approx([0.05, 0.01])
    assert not MemberSettings([plans[0].model, plan_run(make_config("regularizer=sparse_kl")).model])


@pytest.mark.parametrize("overrides, apart", [
    (["model=undercomplete", "regularizer=denoising"], "regularizer.noise_prob"),  # the batched products
    (["model=conv", "regularizer=denoising", "regularizer.noise=gaussian"], "regularizer.noise_std"),  # vmap
    (["model=deep", "task=inpaint"], None)])
def test_members_that_draw_their_inputs_at_random_are_each_the_run_alone(make_config, client, overrides, apart):
    """One generator per member: each member draws its corrupted inputs under the state its run alone starts
    training with, with its own noise level, so it is that run up to float rounding, step after step."""
    from aebench.run.train import train_members

    settings = [("1e-2", "0.3"), ("3e-3", "0.1")]
    configs = [make_config(*overrides, f"trainer.lr={lr}", "seed=4", "trainer.max_epochs=3", "trainer.patience=null",
                           *([f"{apart}={level}"] if apart else [])) for lr, level in settings]
    results = train_members(configs, as_alone=True)
    for config, result in zip(configs, results):
        alone = train(config)
        assert result.metrics["test/mse"] == pytest.approx(alone.metrics["test/mse"], rel=2e-3)
        together = [m.value for m in client.get_metric_history(result.run_id, "train/loss")]
        own = [m.value for m in client.get_metric_history(alone.run_id, "train/loss")]
        assert together == pytest.approx(own, rel=2e-3)


def test_each_member_draws_the_inputs_of_its_run_alone_step_after_step(make_config):
    """MemberDraws: member k's corrupted inputs are, bit for bit, those its own model draws from the
    generator state right after its planning, over two steps and after a middle member retires."""
    from aebench.fast.member_draws import MemberDraws, states_after_planning

    configs = [make_config("regularizer=denoising", f"regularizer.noise_prob={p}", f"seed={seed}")
               for p, seed in ((0.3, 1), (0.1, 2), (0.5, 3))]
    plans, states, expected = [], [], []
    for config in configs:
        plans.append(plan_run(config))
        states.append(states_after_planning(plans[-1].spec.seed))
    xs = [torch.rand(3, 16, *plans[0].datamodule.sample_shape) for _ in range(3)]
    for index, (plan, state) in enumerate(zip(plans, states)):
        torch.set_rng_state(state["cpu"])  # as the run alone starts training
        model = plan.model
        expected.append([model.regularizers[0].corrupt(model.task.training_input(batch[index])) for batch in xs])
    draws = MemberDraws([plan.model for plan in plans], states)
    outer = torch.get_rng_state()
    for step in range(2):
        drawn = draws.inputs(xs[step], [0, 1, 2])
        assert all(torch.equal(drawn[k], expected[k][step]) for k in range(3))
    # member 1 retired: rows 0 and 1 are members 0 and 2, each going on with its own draws
    batch = torch.stack([xs[2][0], xs[2][2]])
    drawn = draws.inputs(batch, [0, 2])
    assert torch.equal(drawn[0], expected[0][2]) and torch.equal(drawn[1], expected[2][2])
    assert torch.equal(torch.get_rng_state(), outer)  # the process's generator is left as it was
