"""Data-specific compression (metrics.transfer): a model trained on one dataset scored on the test
splits of others of the same shape, the train x test matrix in the report, PCA's beside it."""
import numpy as np
import pytest
import torch
from datafiles import write_structured_mnist

from aebench.errors import ConfigError
from aebench.evaluate.pca import pca_baseline
from aebench.report import render_report
from aebench.run.plan import plan_run
from aebench.run.train import train
from aebench.tasks.common import psnr_per_image
from aebench.tracking import TrackingStore

BOTH = "metrics.transfer=[mnist,fashion_mnist]"


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    """Two 28 x 28 datasets of different structure: blobs as mnist, bars as fashion_mnist."""
    root = tmp_path_factory.mktemp("data")
    write_structured_mnist(root / "mnist", "blobs", 600, 150, seed=1)
    write_structured_mnist(root / "fashion_mnist", "bars", 600, 150, seed=2)
    return root


def test_a_model_compresses_its_own_kind_of_data_best(make_config, client, data_root, tmp_path):
    runs = {}
    for dataset in ("mnist", "fashion_mnist"):
        cfg = make_config(f"dataset={dataset}", f"data_root={data_root}", "model.code_dim=8", BOTH,
                          "trainer.max_epochs=15")
        runs[dataset] = train(cfg)
        if dataset == "mnist":  # the logged score is the model's PSNR on the other test split
            plan = plan_run(cfg)
            plan.fit()
            other = plan.transfer["fashion_mnist"].inputs("test")
            with torch.no_grad():
                direct = psnr_per_image(plan.model.eval()(other), other).mean().item()
            assert runs[dataset].metrics["transfer/fashion_mnist/psnr"] == pytest.approx(direct, abs=0.05)
    own = {d: runs[d].metrics["test/psnr"] for d in runs}
    # on each test set, the model trained on the other dataset (a test set fixes how hard it is)
    stranger = {"mnist": runs["fashion_mnist"].metrics["transfer/mnist/psnr"],
                "fashion_mnist": runs["mnist"].metrics["transfer/fashion_mnist/psnr"]}
    assert "transfer/mnist/psnr" not in runs["mnist"].metrics  # its own test split is test/psnr
    for dataset in runs:  # each test set is compressed best by its own data's model: data-specific
        assert own[dataset] > stranger[dataset] + 1.0, (own, stranger)

    store = TrackingStore(client.tracking_uri, make_config.experiment)
    folder = render_report(store, whole_experiment=True, output_dir=tmp_path)
    text = (folder / "leaderboard.md").read_text()
    assert "## Data-specific: trained on (rows) x tested on (columns)" in text
    advantage = ((own["mnist"] - stranger["mnist"]) + (own["fashion_mnist"] - stranger["fashion_mnist"])) / 2
    assert f"**undercomplete / none, code 8** (own-data advantage {advantage:.2f} dB)" in text
    table = text.split("**undercomplete / none, code 8**")[1]
    assert "| trained on | fashion_mnist | mnist |" in table  # columns in name order
    assert f"| fashion_mnist | {own['fashion_mnist']:.2f} | {stranger['mnist']:.2f} |" in table
    assert f"| mnist | {stranger['fashion_mnist']:.2f} | {own['mnist']:.2f} |" in table
    assert (folder / "transfer.csv").read_text().startswith("method,trained_on,tested_on,psnr_mean,n")
    html = (folder / "leaderboard.html").read_text()
    assert "own-data advantage" in html and 'class="transfer"' in html


def test_pca_scores_the_other_test_splits_as_the_runs_do(make_config, data_root):
    fitted = {}
    for dataset in ("mnist", "fashion_mnist"):
        plan = plan_run(make_config(f"dataset={dataset}", f"data_root={data_root}", BOTH))
        fitted[dataset] = pca_baseline(plan.datamodule, 8, plan.spec.metrics, plan.transfer)[0]
    # PCA of the blobs reconstructs the blobs' test split better than PCA of the bars, and vice versa
    assert fitted["mnist"]["test/psnr"] > fitted["fashion_mnist"]["transfer/mnist/psnr"]
    assert fitted["fashion_mnist"]["test/psnr"] > fitted["mnist"]["transfer/fashion_mnist/psnr"]
    assert np.isfinite(fitted["mnist"]["transfer/fashion_mnist/mse"])


def test_transfer_datasets_must_exist_and_be_shaped_as_the_runs(make_config, data_root):
    with pytest.raises(ConfigError, match="metrics.transfer='digits' is not allowed: datasets whose samples are "
                                          r"shaped as dataset=mnist's \(1, 28, 28\)"):
        plan_run(make_config("dataset=mnist", f"data_root={data_root}", "metrics.transfer=[digits]"))
    with pytest.raises(ConfigError, match="metrics.transfer='mnst' is not allowed: dataset names: "):
        plan_run(make_config("dataset=mnist", f"data_root={data_root}", "metrics.transfer=[mnst]"))
    with pytest.raises(ConfigError, match="metrics.transfer='kmnist' is not allowed: a dataset that loads"):
        plan_run(make_config("dataset=mnist", f"data_root={data_root}", "metrics.transfer=[kmnist]"))


def test_matrices_keep_apart_what_the_leaderboard_keeps_apart_and_leave_out_trials():
    """Runs that differ in a swept setting are two methods, not more seeds of one; a tuned sweep's trials
    are not rows of any matrix."""
    import pandas as pd

    from aebench.report.transfer import transfer_matrices

    def run(dataset, other, lr, psnr, crossed, stage=None):
        return {"model": "linear", "regularizer": "none", "dataset": dataset, "task": "reconstruct", "stage": stage,
                "params.trainer.lr": lr, "params.dataset.name": dataset, "metrics.model/code_dim": 8.0,
                "metrics.test/psnr": psnr, f"metrics.transfer/{other}/psnr": crossed}

    runs = pd.DataFrame([run("mnist", "fashion_mnist", "0.01", 20.0, 12.0), run("mnist", "fashion_mnist", "0.01", 22.0, 14.0),
                         run("mnist", "fashion_mnist", "0.1", 30.0, 10.0),
                         run("mnist", "fashion_mnist", "0.5", 99.0, 99.0, stage="trial")])
    matrices = {m.method: m for m in transfer_matrices(runs)}
    assert sorted(matrices) == ["linear / none, code 8 (trainer.lr=0.01)", "linear / none, code 8 (trainer.lr=0.1)"]
    low = matrices["linear / none, code 8 (trainer.lr=0.01)"]
    assert low.means.loc["mnist", "mnist"] == 21.0 and low.means.loc["mnist", "fashion_mnist"] == 13.0
    assert low.counts.loc["mnist", "mnist"] == 2
