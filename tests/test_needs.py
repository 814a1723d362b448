"""Constraints declared by the plugins: the rule table evaluates each plugin's own needs, a model
assembled by hand checks the same declaration, and a new plugin's need is enforced with no edit
to the rule table."""
from __future__ import annotations

import pytest
import torch
from conftest import experiment_runs

from aebench.errors import ConfigError
from aebench.models import conv, deep, linear
from aebench.needs import Facts, Need
from aebench.regularizers import REGULARIZERS, Denoising, Regularizer, SparseKL
from aebench.run.plan import plan_run
from aebench.run.train import train
from aebench.tasks import Task, build_task


def refusal(cfg) -> str:
    with pytest.raises(ConfigError) as raised:
        plan_run(cfg)
    return str(raised.value)


def test_a_model_built_by_hand_is_refused_with_the_rule_tables_own_words(make_config):
    """One declaration, two places: the config path (rule table, before building) and Python."""
    from_config = refusal(make_config("model=linear", "regularizer=sparse_kl"))
    with pytest.raises(ConfigError) as by_hand:
        linear(input_shape=(64,), code_dim=8, regularizers=[SparseKL()])
    assert str(by_hand.value) == from_config
    assert "the code activation of model=linear is identity" in from_config


def test_data_needs_read_the_data_by_name_or_as_the_data(make_config):
    from_config = refusal(make_config("model=conv", "dataset=synthetic_lowrank"))
    assert "dataset=synthetic_lowrank gives vectors shaped (64,)" in from_config
    with pytest.raises(ConfigError, match=r"the data gives vectors shaped \(64,\)"):
        conv(input_shape=(64,))
    from_config = refusal(make_config("dataset=wine", "regularizer=denoising", "regularizer.noise=salt_pepper",
                                      "model.code_dim=4"))
    assert from_config.startswith("regularizer.noise='salt_pepper' is not allowed: gaussian or masking: dataset=wine")
    with pytest.raises(ConfigError, match="the data is not scaled to"):
        deep(input_shape=(13,), code_dim=4, unit_range=False, regularizers=[Denoising(noise="salt_pepper")])


def test_the_facts_decide_each_declared_need():
    """Each plugin's needs, met and unmet, on facts alone (no model, no data)."""
    vectors, images = Facts((64,), dataset="d", labels=False), Facts((3, 8, 8), dataset="d")
    sparse = SparseKL().needs()
    assert not sparse[0].met(vectors) and sparse[0].met(Facts((64,), code_activation="sigmoid"))
    assert Denoising(noise="gaussian").needs() == ()
    salt = Denoising(noise="salt_pepper").needs()[0]
    assert salt.met(vectors) and not salt.met(Facts((64,), unit_range=False))
    colorize = build_task({"name": "colorize"}).needs()
    assert [need.met(images) for need in colorize] == [True, True, True]
    assert [need.met(vectors) for need in colorize] == [False, False, True]
    visualize = build_task({"name": "visualize"}).needs()
    assert all(need.met(Facts((64,), code_dim=2)) for need in visualize)
    assert [need.met(Facts((64,), code_dim=None, code_larger_than_input=True)) for need in visualize] == [False, False]
    denoise = build_task({"name": "denoise"}).needs()
    assert [need.met(Facts((64,), corrupting_regularizers=("denoising",))) for need in denoise] == [True, False]


class NeedsLabels(Regularizer):
    """A new plugin with a need of its own: nothing in aebench.run.rules names it."""

    name = "needs_labels"
    has_penalty = False

    def needs(self) -> tuple[Need, ...]:
        return (Need("needs_labels needs labels", lambda f: f.labels, "regularizer", lambda f: f.regularizer,
                     lambda f: f"a labelled dataset: {f.data} has no labels"),)


@pytest.fixture
def needs_labels():
    REGULARIZERS.register(NeedsLabels, NeedsLabels.name)
    yield NeedsLabels
    REGULARIZERS.unregister(NeedsLabels.name)


def test_a_new_plugins_need_is_enforced_without_editing_the_rule_table(make_config, needs_labels):
    message = refusal(make_config("regularizer=none", "regularizer.name=needs_labels",
                                  "dataset=synthetic_lowrank"))
    assert message == ("regularizer='needs_labels' is not allowed: a labelled dataset: dataset=synthetic_lowrank "
                       "has no labels")
    plan = plan_run(make_config("regularizer=none", "regularizer.name=needs_labels"))  # digits has labels
    assert [r.name for r in plan.model.regularizers] == ["needs_labels"]
    plan.fit()
    assert torch.isfinite(plan.trainer.callback_metrics["val/loss"])


class NeedsColour(Task):
    name = "needs_colour"
    data_needs = ("colour",)


def test_a_tasks_data_needs_become_rules():
    needs = NeedsColour().needs()
    grey = Facts((1, 8, 8), dataset="digits", task="needs_colour")
    assert not needs[0].met(grey)
    assert str(needs[0].error(grey)) == ("task='needs_colour' is not allowed: a task for this data: task=needs_colour "
                                         "needs colour images (3 channels), and dataset=digits gives samples shaped "
                                         "(1, 8, 8)")


@pytest.mark.parametrize("overrides,message", [
    (["model=stacked", "model.activation=relu", "regularizer=sparse_kl"],
     "the code activation of model=stacked (layer 1's pretraining) is relu"),
    (["model=stacked", "regularizer=denoising", "regularizer.noise=salt_pepper"],
     "gaussian or masking: dataset=digits/layer1-codes is not scaled to [0, 1]"),
])
def test_stacked_pretraining_stages_meet_the_regularizers_needs_before_any_run(make_config, client, overrides,
                                                                                message):
    """Each layer-wise stage is an autoencoder of its own: its code is a hidden layer, its input (from layer 2)
    the codes below. Refused up front, not by a stage once the MLflow run exists."""
    with pytest.raises(ConfigError) as refused:
        train(make_config(*overrides))
    assert message in str(refused.value)
    assert experiment_runs(client, make_config.experiment) == []
    plan_run(make_config("model=stacked", "regularizer=sparse_kl"))  # sigmoid hidden layers: every stage in (0, 1)
