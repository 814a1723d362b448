"""Typed specs: the composed config resolved and checked once into frozen dataclasses, which every
builder, tag, param, rule and sweep key reads."""
from __future__ import annotations

import dataclasses

import pytest

from aebench.errors import ConfigError
from aebench.run.plan import plan_run
from aebench.run.spec import RunSpec
from aebench.sweep.keys import run_key
from aebench.sweep.plan import job_label


def test_a_spec_is_frozen_and_typed(make_config):
    spec = RunSpec.of(make_config("model=deep", "trainer.lr=0.005", "trainer.devices=[0]", "model.hidden_dims=[48,32]"))
    assert (spec.model.name, spec.trainer.lr, spec.trainer.devices, spec.seed) == ("deep", 0.005, (0,), 0)
    assert spec.model.options["hidden_dims"] == [48, 32] and spec.dataset.split["val_fraction"] == 0.1
    assert "split_seed" not in spec.dataset.options  # split settings are the split's, not the loader's
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.seed = 1
    with pytest.raises(TypeError):
        spec.model.options["code_dim"] = 3
    assert RunSpec.of(spec) is spec


def test_a_model_config_may_name_its_own_learning_rate(make_config):
    """deep trains at Adam's 1e-3 (its config's ``lr``), the others at 1e-2; ``trainer.lr`` sets it for all."""
    deep, plain = RunSpec.of(make_config("model=deep")), RunSpec.of(make_config("model=undercomplete"))
    assert (deep.trainer.lr, plain.trainer.lr) == (1e-3, 1e-2)
    assert "lr" not in deep.model.options  # the trainer's setting, not an option of the model's builder
    assert plan_run(make_config("model=deep")).model.lr == 1e-3
    assert RunSpec.of(make_config("model=deep", "trainer.lr=0.005")).trainer.lr == 0.005
    assert RunSpec.of(make_config("model=deep", "model.lr=0.002")).trainer.lr == 0.002


def test_names_labels_and_keys_are_read_from_the_spec(make_config):
    cfg = make_config("regularizer=sparse_kl_denoising", "task=denoise", "seed=2")
    spec = RunSpec.of(cfg)
    assert spec.regularizer.label == "sparse_kl+denoising"
    assert [(term.path, term.name) for term in spec.regularizer.terms] == [("terms.sparse_kl", "sparse_kl"),
                                                                          ("terms.denoising", "denoising")]
    assert spec.title == "digits / undercomplete / sparse_kl+denoising / task denoise"
    assert spec.run_name == "digits-undercomplete-sparse_kl+denoising-denoise-s2"
    assert job_label(spec, ["trainer.lr"]) == "digits undercomplete sparse_kl+denoising task=denoise seed=2 trainer.lr=0.01"
    assert run_key(spec) == run_key(cfg)  # a sweep keyed before specs existed resumes onto the same runs


def test_params_hold_the_resolved_values_and_the_real_code_size(make_config):
    plan = plan_run(make_config("model=overcomplete"))
    params = plan.params()
    assert plan.spec.params()["model.code_dim"] is None  # the config leaves it to the model ...
    assert params["model.code_dim"] == plan.model.code_dim == 128  # ... and the run logs what it built
    assert params["tracking.uri"].startswith("sqlite:///") and "${" not in str(params["tracking.uri"])
    assert params["trainer.lr"] == 0.01 and params["regularizer.name"] == "none"


@pytest.mark.parametrize("override,message", [
    ("trainer.precision=8", "trainer.precision='8' is not allowed: one of"),
    ("trainer.devices=0", "trainer.devices=0 is not allowed: a count >= 1"),
    ("trainer.fast=maybe", "trainer.fast='maybe' is not allowed: true or false"),
    ("metrics.saturation_margin=0.7", "metrics.saturation_margin=0.7 is not allowed"),
    ("seed=-1", "seed=-1 is not allowed: an integer from 0"),
])
def test_a_bad_setting_fails_when_the_spec_is_made(make_config, override, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        RunSpec.of(make_config(override))
