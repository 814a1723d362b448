"""Stacked autoencoder: greedy layer-wise pretraining, logged per stage, then fine-tuning from it."""
import lightning as L
import torch

from aebench.run.plan import build_trainer, plan_run
from aebench.run.pretrain import pretrain_layerwise
from aebench.run.train import train


def snapshot(model):
    return {name: value.detach().clone() for name, value in model.state_dict().items()}


def test_stages_share_modules_with_the_deep_model(make_config):
    plan = plan_run(make_config("model=stacked", "model.hidden_dims=[40,24]", "model.code_dim=12"))
    model = plan.model
    assert model.num_stages == 3
    widths = [(stage.input_shape, stage.code_dim) for stage in (model.stage(i) for i in range(3))]
    assert widths == [((1, 8, 8), 40), ((40,), 24), ((24,), 12)]
    deep_parameters = {id(p) for p in model.parameters()}
    for index in range(3):
        assert {id(p) for p in model.stage(index).parameters()} <= deep_parameters


def test_each_stage_trains_its_own_layer_and_fine_tuning_starts_from_it(make_config):
    cfg = make_config("model=stacked", "model.pretrain_epochs=3", "trainer.max_epochs=2")
    plan = plan_run(cfg)
    model, data = plan.model, plan.datamodule
    initial = snapshot(model)
    after_stage = []

    def fit_stage(stage, stage_data, index):
        after_stage.append(snapshot(model))  # the weights as each stage is about to start
        build_trainer(cfg, max_epochs=model.pretrain_epochs).fit(stage, datamodule=stage_data)

    pretrain_layerwise(model, data, fit_stage)
    pretrained = snapshot(model)
    changed = [name for name in initial if not torch.equal(initial[name], pretrained[name])]
    for layer in range(3):  # every encoder layer and its mirror in the decoder moved
        assert any(f"encoder.{layer + 1}.0" in name for name in changed), changed
    # stage l only moved layer l: before stage 2, the second encoder layer was still at its initial values
    assert torch.equal(after_stage[1]["encoder.2.0.weight"], initial["encoder.2.0.weight"])
    assert not torch.equal(after_stage[1]["encoder.1.0.weight"], initial["encoder.1.0.weight"])

    seen_at_start = {}

    class Spy(L.Callback):
        def on_train_start(self, trainer, pl_module):
            seen_at_start.update(snapshot(pl_module))

    plan.trainer.callbacks.append(Spy())
    plan.trainer.fit(model, datamodule=data)
    assert all(torch.equal(seen_at_start[name], pretrained[name]) for name in pretrained)


def test_stages_are_logged_to_the_run(make_config, client):
    result = train(make_config("model=stacked", "model.pretrain_epochs=2", "regularizer=denoising"))
    run = client.get_run(result.run_id)
    for layer in (1, 2, 3):
        for metric in ("train/loss", "val/loss"):
            history = client.get_metric_history(result.run_id, f"pretrain/layer{layer}/{metric}")
            assert len(history) == 2, (layer, metric)
    assert len(client.get_metric_history(result.run_id, "train/loss")) == 3
    assert run.data.tags["model"] == "stacked" and run.data.params["model.pretrain_epochs"] == "2"


def test_pretraining_helps_a_sigmoid_stack(make_config):
    """Greedy pretraining gives the fine-tuning a better start than random weights (Bengio et al. 2007)."""
    common = ["model=stacked", "trainer.max_epochs=5"]
    pretrained = train(make_config(*common, "model.pretrain_epochs=10")).metrics["test/mse"]
    from_scratch = train(make_config(*common, "model.pretrain_epochs=0")).metrics["test/mse"]
    assert pretrained < from_scratch


def test_every_pretraining_stage_trains_without_the_anomaly_class(make_config):
    """task=anomaly leaves class 0 out of train and val; the stages on the codes of lower layers must too."""
    plan = plan_run(make_config("model=stacked", "task=anomaly", "task.holdout_class=0"))
    seen = []

    def record(stage, stage_data, index):
        seen.append((stage_data.labels("train"), stage_data.labels("val"), stage_data.split.test))

    pretrain_layerwise(plan.model, plan.datamodule, record)
    assert len(seen) == plan.model.num_stages == 3
    for train_labels, val_labels, test in seen:
        assert 0 not in train_labels.tolist() and 0 not in val_labels.tolist()
        assert torch.equal(test, plan.datamodule.split.test)


def test_contractive_keeps_one_output_per_layer_through_layerwise_pretraining(make_config):
    """The deep model's penalty keeps each layer's latest output (with its graph) for its own passes; the
    stages share those layers, and their passes must not pile outputs up (memory grew with every step)."""
    plan = plan_run(make_config("model=stacked", "regularizer=contractive", "model.pretrain_epochs=2"))
    jacobian = plan.model.regularizers[0].jacobian
    layers = len(jacobian.chain)
    kept = []

    def fit_and_count(stage, stage_data, index):
        trainer = build_trainer(plan.spec, max_epochs=2, select=False)
        trainer.fit(stage, datamodule=stage_data)
        kept.append(jacobian.kept_outputs)

    pretrain_layerwise(plan.model, plan.datamodule, fit_and_count)
    assert layers == 3 and max(kept) <= layers, kept
