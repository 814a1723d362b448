"""The MLflow UI as a user browses it, in Debian's chromium: a sweep's runs table lists its child runs
with their datasets and models; and the logged MLflow model loads and reconstructs a batch."""
import shutil
import subprocess
import sys

import mlflow
import mlflow.pytorch
import pytest
import torch
from mlflow import MlflowClient
from sweeps import local_mlflow, needs_program

from aebench.models import load_autoencoder
from aebench.run.train import train

SWEEP = ["+sweep=quick", "sweep.datasets=[digits]", "sweep.models=[linear]", "sweep.regularizers=[none,l2]",
         "sweep.seeds=1", "trainer.max_epochs=2", "tracking.log_model=true"]
CHILDREN = ["digits-linear-none-s0", "digits-linear-l2-s0"]


@pytest.mark.parametrize("model", ["conv", "vae"])  # convolutions; a bottleneck whose code is its mean
def test_the_logged_mlflow_model_loads_and_reconstructs_a_batch(make_config, client, tmp_path, model):
    result = train(make_config(f"model={model}", "tracking.log_model=true", "model.code_dim=8"))
    run = client.get_run(result.run_id)
    assert "aebench.mlflow_model_error" not in run.data.tags
    assert [client.get_logged_model(o.model_id).name for o in run.outputs.model_outputs] == ["model"]
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(client.tracking_uri)
    try:
        loaded = mlflow.pytorch.load_model(f"runs:/{result.run_id}/model")
    finally:
        mlflow.set_tracking_uri(previous)
    weights = load_autoencoder(client.download_artifacts(result.run_id, "model.pt", str(tmp_path))).eval()
    batch = torch.rand(7, 1, 8, 8)  # another batch size than the input example's: the batch is dynamic
    with torch.no_grad():
        assert torch.allclose(loaded(batch), weights(batch), atol=1e-5)


@pytest.mark.slow
def test_the_mlflow_ui_lists_a_sweeps_runs_with_their_datasets_and_models(tmp_path):
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        needs_program("chromium", "sudo apt-get install chromium")
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    swept = subprocess.run([sys.executable, "-m", "aebench", *SWEEP], cwd=tmp_path, capture_output=True, text=True,
                           timeout=600)
    assert swept.returncode == 0, swept.stderr[-3000:]
    store = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    experiment = MlflowClient(store).get_experiment_by_name("aebench").experiment_id
    parent = next(r for r in MlflowClient(store).search_runs([experiment]) if r.info.run_name.startswith("sweep-"))
    with local_mlflow(tmp_path, store, "ui") as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1800, "height": 1000})
        page.goto(f"{url}/#/experiments/{experiment}/runs?workflowType=machine_learning")  # aebench prints it
        page.wait_for_selector(f"text={parent.info.run_name}", timeout=60_000)
        page.locator("[role=row]", has_text=parent.info.run_name).first.locator("button").first.click()
        for child in CHILDREN:  # the sweep's runs, nested under its parent run
            page.wait_for_selector(f"text={child}", timeout=30_000)
        page.wait_for_timeout(1000)
        rows = page.locator("[role=row]").all_inner_texts()
        browser.close()
    names = [row for row in rows if any(child in row for child in CHILDREN)]
    details = [row for row in rows if "digits/train (" in row]
    assert len(names) == 2 and len(details) == 2, rows  # the table's two panes: names, then the columns
    for row in details:  # Dataset (the three splits), Source, Models
        assert "Training" in row and "python -m aebench" in row and row.rstrip().endswith("model"), row
