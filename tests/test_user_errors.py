"""Bad input fails with one line naming the value and what is allowed, before any run is created."""
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from aebench import cli


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


BAD_INPUTS = {
    "code_dim zero": (["model.code_dim=0"], "model.code_dim=0 is not allowed: an integer from 1 to 63"),
    "undercomplete code not smaller": (["model.code_dim=64"], "model.code_dim=64 is not allowed: an integer from 1 to 63"),
    "overcomplete code too small": (["model=overcomplete", "model.code_dim=10"], "model.code_dim=10 is not allowed: an integer >= 64"),
    "negative epochs": (["trainer.max_epochs=-1"], "trainer.max_epochs=-1 is not allowed: an integer >= 0"),
    "conv on vectors": (["model=conv", "dataset=synthetic_lowrank"], "model='conv' is not allowed: model=conv needs images"),
    "tied weights, asymmetric decoder": (["model=deep", "model.tied_weights=true", "model.decoder_dims=[16,48]"],
                                         "model.tied_weights=True is not allowed: false when decoder_dims"),
    "tied weights on conv": (["model=conv", "model.tied_weights=true"], "model.tied_weights=True is not allowed"),
    "seed not an integer": (["seed=abc"], "seed='abc' is not allowed: an integer from 0 to"),
    "seed a float": (["seed=1.5"], "seed=1.5 is not allowed: an integer"),
    "unknown activation": (["model.activation=swishy"], "model.activation='swishy' is not allowed: one of"),
    "bce on standardised data is fine but bad loss is not": (["model.loss=huber"], "model.loss='huber' is not allowed: one of mse, l1, bce"),
    "zero learning rate": (["trainer.lr=0"], "trainer.lr=0 is not allowed: a number > 0"),
    "zero batch size": (["trainer.batch_size=0"], "trainer.batch_size=0 is not allowed: an integer >= 1"),
    "zero threads": (["trainer.threads=0"], "trainer.threads=0 is not allowed: an integer >= 1"),
    "bad precision": (["trainer.precision=8"], "trainer.precision='8' is not allowed: one of"),
    "split leaves no training data": (["dataset.test_fraction=0.5", "dataset.val_fraction=0.5"], "dataset.val_fraction=0.5 is not allowed"),
    "negative weight": (["regularizer=l2", "regularizer.weight=-1"], "regularizer.weight=-1 is not allowed: a number >= 0.0"),
    "rho at 1": (["regularizer=sparse_kl", "regularizer.target=1.0"], "regularizer.target=1.0 is not allowed: a number > 0.0 and < 1.0"),
    "rho at 0": (["regularizer=sparse_kl", "regularizer.target=0"], "regularizer.target=0 is not allowed: a number > 0.0 and < 1.0"),
    "probability 1": (["regularizer=denoising", "regularizer.noise_prob=1.0"], "regularizer.noise_prob=1.0 is not allowed: a number >= 0.0 and < 1.0"),
    "negative probability": (["regularizer=denoising", "regularizer.noise_prob=-0.1"], "regularizer.noise_prob=-0.1 is not allowed"),
    "unknown noise": (["regularizer=denoising", "regularizer.noise=speckle"], "regularizer.noise='speckle' is not allowed: one of gaussian, masking, salt_pepper"),
    "zero projections": (["regularizer=contractive", "regularizer.projections=0"], "regularizer.projections=0 is not allowed: an integer >= 1"),
    "bad term in a combination": (["regularizer=sparse_kl_denoising", "regularizer.terms.sparse_kl.weight=-2"],
                                  "regularizer.terms.sparse_kl.weight=-2 is not allowed: a number >= 0.0"),
    "kl on a linear code": (["model=linear", "regularizer=sparse_kl"], "needs code activations in (0, 1)"),
    "widths as a word": (["model=deep", "model.hidden_dims=abc"],
                         "model.hidden_dims='abc' is not allowed: a list of one or more positive integers"),
    "negative pretraining": (["model=stacked", "model.pretrain_epochs=-2"], "model.pretrain_epochs=-2 is not allowed: an integer >= 0"),
    "mnist files missing": (["dataset=mnist"], "aebench: error: dataset=mnist needs train-images-idx3-ubyte[.gz], "),
    "npy without a path": (["dataset=npy"], "dataset.path=None is not allowed: the .npy or .npz file to read"),
    "image folder missing": (["dataset=images", "dataset.path=no/such/folder"], "'no/such/folder' is not a folder of images"),
    "code larger than a table": (["dataset=wine"], "model.code_dim=16 is not allowed: an integer from 1 to 12"),
    "unknown model (a config group option)": (["model=foo"], "model='foo' is not allowed: one of conv, deep, linear, "),
    "unknown setting": (["trainer.foo=1"], "trainer.foo='1' is not allowed: a setting of trainer (max_epochs, "),
    "unknown sweep": (["+sweep=nope"], "sweep='nope' is not allowed: one of all, quick, transfer, tuned"),
    "a dataset's root where it has none": (["+sweep=quick", "dataset.root=/x", "sweep.datasets=[digits,mnist]"],
                                           "dataset.root='/x' is not allowed: a setting of dataset (name, "),
    "negative flush interval": (["tracking.flush_seconds=-1"], "tracking.flush_seconds=-1 is not allowed: a number >= 0"),
    "file store": (["tracking.uri=./mlruns"], "tracking.uri='./mlruns' is not allowed: MLflow 3 refuses the file store"),
    "server not answering": ([f"tracking.uri=http://127.0.0.1:{closed_port()}"], "is not allowed: a reachable MLflow server"),
}


def run_cli(monkeypatch, capsys, tmp_path, overrides):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["aebench", "trainer.max_epochs=1", "trainer.progress_bar=false", *overrides])
    try:
        cli.main()
        code = 0
    except SystemExit as exit_info:
        code = exit_info.code
    return code, capsys.readouterr()


@pytest.mark.parametrize("overrides,message", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_input_is_one_line_and_creates_no_run(monkeypatch, capsys, tmp_path, overrides, message):
    code, output = run_cli(monkeypatch, capsys, tmp_path, overrides)
    assert code == 2
    lines = output.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("aebench: error: "), output.err
    assert message in lines[0]
    assert "Traceback" not in output.err + output.out
    assert not (tmp_path / "mlruns" / "mlflow.db").exists()  # nothing was created: no run can exist


def test_a_store_with_runs_keeps_them_after_bad_input(monkeypatch, capsys, tmp_path):
    code, _ = run_cli(monkeypatch, capsys, tmp_path, ["tracking.log_model=false"])
    assert code == 0
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("aebench")
    before = client.search_runs([experiment.experiment_id])
    code, output = run_cli(monkeypatch, capsys, tmp_path, ["model.code_dim=0"])
    assert code == 2 and "model.code_dim=0" in output.err
    after = client.search_runs([experiment.experiment_id])
    assert [r.info.run_id for r in after] == [r.info.run_id for r in before] and len(before) == 1
    assert after[0].info.status == "FINISHED"


@pytest.mark.parametrize("overrides,listed", [(["model=foo"], ["conv", "deep", "linear", "overcomplete", "stacked", "undercomplete"]),
                                               (["dataset=svhn"], ["digits", "synthetic_lowrank", "mnist", "cifar10", "npy"]),
                                               (["regularizer=dropout"], ["contractive", "denoising", "l2", "sparse_kl", "sparse_l1"])])
def test_unknown_option_lists_the_valid_ones(monkeypatch, capsys, tmp_path, overrides, listed):
    code, output = run_cli(monkeypatch, capsys, tmp_path, overrides)
    assert code != 0
    for option in listed:
        assert option in output.err
    assert not (tmp_path / "mlruns" / "mlflow.db").exists()


def test_unknown_field_is_refused_by_hydra(monkeypatch, capsys, tmp_path):
    code, output = run_cli(monkeypatch, capsys, tmp_path, ["model.code_size=3"])
    assert code != 0 and "code_size" in output.err
    assert not (tmp_path / "mlruns" / "mlflow.db").exists()


@pytest.mark.slow
def test_bad_input_in_a_real_process(tmp_path):
    """The same in a fresh process: exit status 2, one line on stderr, no traceback."""
    done = subprocess.run([sys.executable, "-m", "aebench", "model.code_dim=-3"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "aebench: error: model.code_dim=-3 is not allowed: an integer from 1 to 63"]
    assert not Path(tmp_path, "mlruns", "mlflow.db").exists()
