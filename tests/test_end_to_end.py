"""The commands a user types, each in a fresh process in an empty folder."""
import json
import re
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import pytest
from mlflow import MlflowClient
from sweeps import local_mlflow

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parent.parent


def test_python_m_aebench_with_no_arguments(tmp_path):
    done = subprocess.run([sys.executable, "-m", "aebench"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for metric in ("test/mse", "test/psnr", "test/ssim"):
        assert re.search(rf"{metric}\s+\d+\.\d+", out), out
    run_id = re.search(r"run\s+([0-9a-f]{32})", out).group(1)
    assert "mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db --host 127.0.0.1 --port 5000" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mlruns"]  # nothing else in the user's folder
    assert sorted(p.name for p in (tmp_path / "mlruns").iterdir()) == ["artifacts", "hydra", "mlflow.db"]

    client = MlflowClient(f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["dataset"] == "digits" and run.data.tags["model"] == "undercomplete"
    assert run.data.tags["regularizer"] == "none" and run.data.tags["seed"] == "0"
    assert run.data.tags["aebench.version"] and run.data.tags["aebench.git_commit"]
    assert run.data.params["trainer.max_epochs"] == "50"
    assert len(client.get_metric_history(run_id, "val/loss")) == 50
    assert {a.path for a in client.list_artifacts(run_id)} == {"config.yaml", "model.pt", "reconstructions.png",
                                                              "traversals.png", "interpolations.png", "codes_2d.npz",
                                                              "images"}
    # the UI's image slider: validation reconstructions at epochs 0, 1, 2, 4, ... and the last of the 50
    snapshots = [a.path.split("/")[-1] for a in client.list_artifacts(run_id, "images") if a.path.endswith(".png")]
    assert sorted(int(name.split("+step+")[1].split("+")[0]) for name in snapshots) == [0, 1, 2, 4, 8, 16, 32, 49]
    assert run.data.metrics["test/probe_accuracy"] > 0.8 and run.data.metrics["test/knn_accuracy"] > 0.8
    # the validation probe a tuned sweep selects on, and its n (the standard error's): digits' 180 val images
    assert 0.8 < run.data.metrics["val/probe_accuracy"] <= 1 and run.data.metrics["val/probe_samples"] == 180
    local = Path(run.info.artifact_uri.removeprefix("file://"))
    assert local.is_relative_to(tmp_path / "mlruns" / "artifacts")

    from PIL import Image

    grid = Image.open(local / "reconstructions.png")
    assert grid.size[0] > 2 * grid.size[1] > 100  # two rows of enlarged digits

    from aebench.models import load_autoencoder

    model = load_autoencoder(local / "model.pt")
    assert model.variant == "undercomplete" and model.code_dim == 16


def test_runs_go_to_an_mlflow_server(tmp_path):
    with local_mlflow(tmp_path, f"sqlite:///{tmp_path / 'server.db'}") as uri:
        done = subprocess.run([sys.executable, "-m", "aebench", f"tracking.uri={uri}", "trainer.max_epochs=2",
                               "trainer.progress_bar=false", "model=conv"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        request = urllib.request.Request(f"{uri}/api/2.0/mlflow/experiments/get-by-name?experiment_name=aebench")
        experiment = json.load(urllib.request.urlopen(request))["experiment"]["experiment_id"]
        search = urllib.request.Request(f"{uri}/api/2.0/mlflow/runs/search", method="POST",
                                        data=json.dumps({"experiment_ids": [experiment]}).encode(),
                                        headers={"Content-Type": "application/json"})
        runs = json.load(urllib.request.urlopen(search))["runs"]
        assert len(runs) == 1 and runs[0]["info"]["status"] == "FINISHED"
        metrics = {m["key"] for m in runs[0]["data"]["metrics"]}
        assert {"test/mse", "test/psnr", "test/ssim", "train/loss", "val/loss"} <= metrics
        artifacts = {a.path for a in MlflowClient(uri).list_artifacts(runs[0]["info"]["run_id"])}
        assert {"config.yaml", "model.pt", "reconstructions.png"} <= artifacts
        report = subprocess.run([sys.executable, "-m", "aebench.report", f"tracking.uri={uri}",
                                 "report.whole_experiment=true", f"report.output_dir={tmp_path / 'reports'}"],
                                cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert report.returncode == 0, report.stderr  # the report reads the server, nothing local
        table = (tmp_path / "reports" / "experiment-aebench" / "leaderboard.csv").read_text()
        assert table.startswith("dataset,task,model,regularizer,n,") and "digits,reconstruct,conv,none,1," in table


def test_a_built_wheel_carries_the_configs(tmp_path):
    """A regular (non-editable) install finds conf/ inside the package."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"),
                    str(PROJECT)], check=True, capture_output=True, timeout=300)
    wheel = next((tmp_path / "dist").glob("aebench-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    configs = {str(p.relative_to(PROJECT)) for p in (PROJECT / "conf").rglob("*.yaml")}
    assert {f"aebench/{c}" for c in configs} <= names
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(tmp_path / "site"),
                    str(wheel)], check=True, capture_output=True, timeout=300)
    probe = ("from aebench.config import config_dir; from hydra import compose, initialize_config_dir\n"
             "with initialize_config_dir(config_dir=str(config_dir()), version_base='1.3'):\n"
             "    cfg = compose('config', overrides=['model=conv'])\n"
             "print(config_dir()); print(cfg.model.name)")
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True,
                          env={"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(tmp_path / "site" / "aebench" / "conf"), "conv"]


def test_data_parallel_run_on_two_cpu_processes(tmp_path):
    """trainer=ddp: two processes, one MLflow run written by rank 0, test metrics over the whole test set;
    the loss and the penalty reach Lightning's backward as one scalar."""
    done = subprocess.run([sys.executable, "-m", "aebench", "trainer=ddp", "trainer.accelerator=cpu",
                           "trainer.devices=2", "trainer.max_epochs=3", "trainer.progress_bar=false", "model=deep",
                           "regularizer=sparse_l1"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("aebench: digits / deep") == 1  # one summary, from rank 0
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
    (run,) = client.search_runs([client.get_experiment_by_name("aebench").experiment_id])
    assert run.info.status == "FINISHED" and run.data.params["trainer.strategy"] == "ddp"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "train/loss")] == [0, 1, 2]
    assert [m.step for m in client.get_metric_history(run.info.run_id, "train/penalty/sparse_l1")] == [0, 1, 2]

    import torch

    from aebench.data import AutoencoderDataModule, load_dataset
    from aebench.models import load_autoencoder

    model = load_autoencoder(Path(run.info.artifact_uri.removeprefix("file://")) / "model.pt")
    test_x = AutoencoderDataModule(load_dataset("digits")).inputs("test")
    with torch.no_grad():
        mse = (model(test_x) - test_x).pow(2).mean().item()
    assert run.data.metrics["test/mse"] == pytest.approx(mse, rel=1e-5)  # both halves of the test set counted
