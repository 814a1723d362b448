"""The tasks (``task=...``): each end to end on bundled data, its numbers against direct computations."""
import io
import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from sklearn.decomposition import PCA
from sklearn.manifold import trustworthiness
from sklearn.metrics import roc_auc_score

from aebench.config import config_dir
from aebench.errors import ConfigError
from aebench.evaluate.pca import pca_baseline
from aebench.run.plan import build_datamodule, plan_run
from aebench.run.spec import RunSpec
from aebench.run.train import train
from aebench.tasks import build_task, list_tasks
from aebench.tasks.colorize import grey
from aebench.tasks.compress import jpeg_at, quantise
from aebench.tasks.denoise import fixed_corruption
from aebench.tasks.dewatermark import watermark_bank


def trained(cfg):
    """A run's plan, fitted, without tracking: its model and data for direct computations."""
    plan = plan_run(cfg)
    plan.fit()
    return plan.model.eval(), plan.datamodule


def artifact(client, run_id: str, name: str, folder) -> bytes:
    return open(client.download_artifacts(run_id, name, str(folder)), "rb").read()


def psnr(estimate: np.ndarray, target: np.ndarray) -> float:
    return float(10 * np.log10(1 / max(np.mean((estimate - target) ** 2), 1e-12)))  # as aebench caps it


def test_every_task_is_a_config_option():
    assert list_tasks() == sorted(["reconstruct", "compress", "denoise", "inpaint", "recommend", "superres",
                                   "colorize", "dewatermark", "anomaly", "visualize"])
    with pytest.raises(ConfigError, match="bits=0 is not allowed: an integer from 1 to 16"):
        build_task({"name": "compress", "bits": 0})
    assert sorted(path.stem for path in (config_dir() / "task").glob("*.yaml")) == list_tasks()
    with pytest.raises(ConfigError, match="quality=3 is not allowed: not an option of task compress; its options"):
        build_task({"name": "compress", "quality": 3})


# ---- compress -------------------------------------------------------------------------------------------------

def test_quantise_keeps_2_to_the_bits_levels_per_unit_within_half_a_step():
    codes = torch.randn(500, 6)
    low, high = codes.min(0).values, codes.max(0).values
    for bits in (1, 3, 8):
        quantised = quantise(codes, low, high, bits)
        step = (high - low) / (2 ** bits - 1)
        assert all(len(torch.unique(quantised[:, j])) <= 2 ** bits for j in range(6))
        assert torch.all((quantised - codes).abs() <= step / 2 + 1e-6)
    outside = quantise(torch.tensor([[10.0] * 6]), low, high, 4)  # clipped to the train range
    assert torch.allclose(outside[0], high)


@pytest.mark.parametrize("target", [0.25, 0.5, 1.0, 2.0])
def test_jpeg_quality_search_lands_within_ten_percent_of_the_target_rate(make_config, target):
    test_x = build_datamodule(make_config("dataset=patches")).inputs("test")
    images = (test_x * 255).round().to(torch.uint8).numpy()
    curve, nearest, at_target = jpeg_at(images, target)
    assert abs(nearest - target) <= 0.1 * target, (nearest, target)
    rates = sorted((bpp, value) for _, bpp, value in curve)
    below = max((r for r in rates if r[0] <= target), default=rates[0])
    above = min((r for r in rates if r[0] >= target), default=rates[-1])
    assert min(below[1], above[1]) - 1e-9 <= at_target <= max(below[1], above[1]) + 1e-9
    qualities = [q for q, _, _ in sorted(curve)]
    by_quality = [b for _, b, _ in sorted(curve)]
    # bpp rises with quality; at qualities 1-2 libjpeg clips most of its quantisers to 255, so two rates
    # may tie to within 0.1 % (on the region-split test patches: 0.18411 and 0.18404 bpp)
    assert all(later >= earlier * (1 - 1e-3) for earlier, later in zip(by_quality, by_quality[1:])), by_quality
    assert qualities[0] == 1 and qualities[-1] == 100


def test_jpeg_gives_no_psnr_at_a_rate_it_cannot_reach(make_config):
    images = (build_datamodule(make_config()).inputs("test") * 255).round().to(torch.uint8).numpy()
    _, nearest, at_target = jpeg_at(images, 0.1)  # 8x8 digits: JPEG spends about 1 bpp at least
    assert nearest > 0.5 and math.isnan(at_target)


def test_compress_at_16_bits_matches_the_unquantised_model_and_pca(make_config, client, tmp_path):
    cfg = make_config("task=compress", "task.bits=16", "model=linear", "model.code_dim=8", "trainer.max_epochs=5")
    result = train(cfg)
    metrics = result.metrics
    assert metrics["test/bpp"] == 8 * 16 / 64
    assert metrics["test/compress_psnr"] == pytest.approx(metrics["test/psnr"], abs=0.01)
    datamodule = build_datamodule(cfg)
    pca, _ = pca_baseline(datamodule, 8, RunSpec.of(cfg).metrics)
    assert metrics["test/pca_compress_psnr"] == pytest.approx(pca["test/psnr"], abs=0.01)
    assert abs(metrics["test/jpeg_bpp"] - 2.0) <= 0.2 and 10 < metrics["test/jpeg_psnr_at_bpp"] < 40
    curve = json.loads(artifact(client, result.run_id, "jpeg_curve.json", tmp_path))
    assert {"quality", "bpp", "psnr"} == set(curve[0]) and len(curve) >= 18


def test_fewer_bits_cost_psnr(make_config):
    cfg = make_config("task=compress", "task.bits=2", "model.code_dim=8", "trainer.max_epochs=20")
    coarse = train(cfg).metrics
    assert coarse["test/bpp"] == 8 * 2 / 64
    assert coarse["test/compress_psnr"] < coarse["test/psnr"] - 0.5
    pca, _ = pca_baseline(build_datamodule(cfg), 8, RunSpec.of(cfg).metrics)
    assert coarse["test/pca_compress_psnr"] < pca["test/psnr"] - 0.5


# ---- denoise ---------------------------------------------------------------------------------------------------

def test_denoise_gains_are_psnr_of_output_minus_psnr_of_noisy_input(make_config, client, tmp_path):
    cfg = make_config("task=denoise", "trainer.max_epochs=15", "task.levels=[0.2,0.5]")
    result = train(cfg)
    gains = [result.metrics["test/denoise_gain_0.2"], result.metrics["test/denoise_gain_0.5"]]
    assert gains[1] > 2.0 and gains[1] > gains[0], gains  # it removes heavy noise
    model, datamodule = trained(cfg)
    test_x = datamodule.inputs("test")
    batches = test_x.split(cfg.trainer.batch_size)
    noisy = torch.cat([fixed_corruption("gaussian", 0.5, batch, index) for index, batch in enumerate(batches)])
    with torch.no_grad():
        output = model(noisy).numpy()
    direct = np.mean([psnr(output[i], test_x[i].numpy()) - psnr(noisy[i].clamp(0, 1).numpy(), test_x[i].numpy())
                      for i in range(len(test_x))])
    assert direct == pytest.approx(gains[1], abs=1e-3)
    grid = Image.open(io.BytesIO(artifact(client, result.run_id, "reconstructions.png", tmp_path)))
    assert grid.size[1] > 3 * 48  # three rows: the noisy input, the output, the clean image


@pytest.mark.parametrize("noise", ["masking", "salt_pepper"])
def test_denoise_takes_each_noise(make_config, noise):
    metrics = train(make_config("task=denoise", f"task.noise={noise}", "task.levels=[0.1,0.3]")).metrics
    assert {"test/denoise_gain_0.1", "test/denoise_gain_0.3"} <= set(metrics)


def test_denoise_task_refuses_a_second_corruption(make_config):
    with pytest.raises(ConfigError, match="regularizer='denoising' is not allowed: a regularizer without denoising"):
        train(make_config("task=denoise", "regularizer=denoising"))


# ---- inpaint ---------------------------------------------------------------------------------------------------

def test_inpaint_scores_the_missing_pixels_only_beside_mean_imputation(make_config):
    cfg = make_config("task=inpaint", "trainer.max_epochs=20")
    metrics = train(cfg).metrics
    assert metrics["test/inpaint_psnr"] > metrics["test/inpaint_mean_psnr"] + 1.0
    model, datamodule = trained(cfg)
    test_x, mean = datamodule.inputs("test"), datamodule.inputs("train").mean(0)
    masks = model.task.test_masks(test_x)
    assert masks[""].float().mean().item() == pytest.approx(0.3, abs=0.02)
    assert torch.all(masks["block_"].flatten(1).sum(1) == 16)  # a 4x4 block of each 8x8 digit
    for label, mask in masks.items():
        with torch.no_grad():
            filled = model(test_x.masked_fill(mask, 0.0)).numpy()
        ours, means = [], []
        for i in range(len(test_x)):
            missing = mask[i].numpy()
            truth = test_x[i].numpy()[missing]
            ours.append(psnr(filled[i][missing], truth))
            means.append(psnr(mean.numpy()[missing], truth))
        assert np.mean(ours) == pytest.approx(metrics[f"test/inpaint_{label}psnr"], abs=1e-3)
        assert np.mean(means) == pytest.approx(metrics[f"test/inpaint_{label}mean_psnr"], abs=1e-3)


def test_inpaint_imputes_a_table_by_mse(make_config):
    metrics = train(make_config("task=inpaint", "dataset=wine", "model.code_dim=6", "trainer.max_epochs=20")).metrics
    assert "test/inpaint_psnr" not in metrics
    assert metrics["test/inpaint_mse"] < metrics["test/inpaint_mean_mse"]
    assert metrics["test/inpaint_mean_mse"] == pytest.approx(1.0, abs=0.15)  # standardised features


# ---- colorize --------------------------------------------------------------------------------------------------

def test_colorize_takes_grey_in_and_gives_colour_out(make_config, client, tmp_path):
    cfg = make_config("task=colorize", "dataset=patches", "model=conv", "trainer.max_epochs=2")
    result = train(cfg)
    plan = plan_run(cfg)
    assert plan.model.input_shape == (1, 16, 16) and plan.model.output_shape == (3, 16, 16)
    test_x = plan.datamodule.inputs("test").numpy()
    luma = 0.299 * test_x[:, 0] + 0.587 * test_x[:, 1] + 0.114 * test_x[:, 2]
    direct = np.mean([psnr(np.repeat(luma[i][None], 3, 0), test_x[i]) for i in range(len(test_x))])
    assert result.metrics["test/grey_psnr"] == pytest.approx(direct, abs=1e-3)
    assert torch.allclose(grey(torch.from_numpy(test_x))[:, 0], torch.from_numpy(luma), atol=1e-6)
    assert 12 < result.metrics["test/psnr"] < 40
    grid = Image.open(io.BytesIO(artifact(client, result.run_id, "reconstructions.png", tmp_path)))
    assert grid.mode == "RGB" and grid.size[1] > 3 * 48


@pytest.mark.parametrize("name", ["undercomplete", "conv"])
def test_a_colourising_model_saves_and_loads_with_its_output_shape(tmp_path, name):
    from aebench.models import create_model, load_autoencoder, save_autoencoder

    model = create_model(name, input_shape=(1, 8, 8), output_shape=(3, 8, 8), code_dim=4)
    save_autoencoder(model, tmp_path / "model.pt")
    loaded = load_autoencoder(tmp_path / "model.pt")
    x = torch.rand(2, 1, 8, 8)
    assert loaded.output_shape == (3, 8, 8) and torch.equal(loaded(x), model(x))


def test_colorize_needs_colour(make_config):
    with pytest.raises(ConfigError, match="task='colorize' is not allowed: .*needs colour images.*digits"):
        train(make_config("task=colorize"))
    with pytest.raises(ConfigError, match="model='stacked' is not allowed: a model other than stacked for "
                                          "task=colorize"):
        train(make_config("task=colorize", "dataset=patches", "model=stacked"))
    from aebench.models import stacked

    with pytest.raises(ConfigError, match=r"output_shape=\(3, 4, 4\) is not allowed: the input's shape \(1, 4, 4\)"):
        stacked(input_shape=(1, 4, 4), output_shape=(3, 4, 4))


# ---- superres --------------------------------------------------------------------------------------------------

def pillow_resize(image: np.ndarray, size: int, resample) -> np.ndarray:
    return np.asarray(Image.fromarray(image.astype(np.float32), mode="F").resize((size, size), resample))


@pytest.mark.parametrize("downsample, resample", [("box", Image.Resampling.BOX), ("bicubic", Image.Resampling.BICUBIC)])
@pytest.mark.parametrize("side, factor", [(8, 2), (28, 4)])
def test_superres_input_is_pillows_reduction_and_bicubic_enlargement(downsample, resample, side, factor):
    task = build_task({"name": "superres", "factor": factor, "downsample": downsample})
    images = torch.rand(3, 1, side, side, generator=torch.Generator().manual_seed(side))
    low = task.low_resolution(images)
    ours = task.clean_input(images)
    for index, image in enumerate(images[:, 0].numpy()):
        reduced = np.clip(pillow_resize(image, side // factor, resample), 0, 1)
        assert np.allclose(low[index, 0].numpy(), reduced, atol=1e-5)
        enlarged = np.clip(pillow_resize(reduced, side, Image.Resampling.BICUBIC), 0, 1)
        assert np.allclose(ours[index, 0].numpy(), enlarged, atol=1e-5)


def test_superres_beats_bicubic_enlargement_on_digits(make_config):
    cfg = make_config("task=superres", "task.factor=2", "model=conv", "trainer.max_epochs=40")
    result = train(cfg)
    plan = plan_run(cfg)  # the run's data and task, to compute the baseline directly
    test_x, task = plan.datamodule.inputs("test"), plan.model.task
    bicubic = np.mean([psnr(task.clean_input(test_x[i:i + 1]).numpy(), test_x[i:i + 1].numpy())
                       for i in range(len(test_x))])
    assert result.metrics["test/bicubic_psnr"] == pytest.approx(bicubic, abs=1e-3)
    assert result.metrics["test/superres_gain"] == pytest.approx(
        result.metrics["test/psnr"] - result.metrics["test/bicubic_psnr"], abs=1e-3)
    assert result.metrics["test/superres_gain"] > 1.0, result.metrics  # the model adds detail bicubic cannot
    assert 0 < result.metrics["test/bicubic_ssim"] < result.metrics["test/ssim"]


def test_superres_needs_images_whose_sides_the_factor_divides(make_config):
    with pytest.raises(ConfigError, match="task='superres' is not allowed: .*images.*wine"):
        train(make_config("task=superres", "dataset=wine"))
    with pytest.raises(ConfigError, match="task.factor=3 is not allowed: one of 2, 4"):
        train(make_config("task=superres", "task.factor=3"))
    from aebench.needs import Facts

    need = build_task({"name": "superres", "factor": 4}).needs()[-1]
    assert need.met(Facts((1, 8, 8))) and not need.met(Facts((1, 6, 6)))
    assert "dividing the image sides" in str(need.error(Facts((1, 6, 6))))


# ---- dewatermark -----------------------------------------------------------------------------------------------

def test_watermarks_are_fixed_visible_and_partly_transparent():
    small, text = watermark_bank(16, 16, count=12), watermark_bank(32, 32, count=12)
    assert torch.equal(small, watermark_bank(16, 16, count=12))
    for bank in (small, text):
        alpha = bank[:, 0]
        assert torch.all(alpha.flatten(1).amax(1) > 0.2) and alpha.max() <= 0.7
        assert torch.all(alpha.flatten(1).gt(0).float().mean(1) < 0.5)  # a mark, not a veil
        assert set(bank[:, 1].unique().tolist()) <= {0.0, 1.0}


def test_dewatermark_scores_against_the_clean_image(make_config):
    cfg = make_config("task=dewatermark", "dataset=patches", "trainer.max_epochs=2")
    result = train(cfg)
    plan = plan_run(cfg)
    test_x = plan.datamodule.inputs("test")
    marked = torch.cat([plan.model.task.test_input(batch, index)
                        for index, batch in enumerate(test_x.split(cfg.trainer.batch_size))])
    assert not torch.equal(marked, test_x)
    direct = np.mean([psnr(marked[i].numpy(), test_x[i].numpy()) for i in range(len(test_x))])
    assert result.metrics["test/watermarked_psnr"] == pytest.approx(direct, abs=1e-3)


# ---- anomaly ---------------------------------------------------------------------------------------------------

def test_anomaly_on_digits_beats_chance_clearly(make_config):
    cfg = make_config("task=anomaly", "task.holdout_class=1", "trainer.max_epochs=30")
    result = train(cfg)
    assert result.metrics["test/anomaly_auroc"] > 0.7
    assert "test/probe_accuracy" in result.metrics  # nine classes left to probe
    model, datamodule = trained(cfg)
    assert 1 not in datamodule.labels("train").tolist() and 1 not in datamodule.labels("val").tolist()
    labels = datamodule.labels("test")
    assert (labels == 1).sum() > 20
    test_x = datamodule.inputs("test")
    with torch.no_grad():
        scores = (model(test_x) - test_x).pow(2).flatten(1).mean(1).numpy()
    assert roc_auc_score((labels == 1).numpy(), scores) == pytest.approx(result.metrics["test/anomaly_auroc"],
                                                                          abs=1e-4)


def test_anomaly_without_labels_injects_outliers(make_config):
    result = train(make_config("task=anomaly", "dataset=synthetic_lowrank", "model.code_dim=4"))
    assert 0 <= result.metrics["test/anomaly_auroc"] <= 1
    task = build_task({"name": "anomaly", "outlier_fraction": 0.1})
    x = torch.rand(200, 5)
    with_outliers, anomalous = task.with_outliers(x, images=False)
    assert anomalous.sum() == 20 and torch.equal(with_outliers[~anomalous], x[~anomalous])
    with pytest.raises(ConfigError, match="task.holdout_class=10 is not allowed: one of the classes of "
                                          r"dataset=digits: \[0, 1, 2, 3, 4, 5, 6, 7, 8, 9\]"):
        train(make_config("task=anomaly", "task.holdout_class=10"))


# ---- visualize -------------------------------------------------------------------------------------------------

def test_visualize_scores_a_2d_code_and_pca_by_trustworthiness(make_config, client, tmp_path):
    cfg = make_config("task=visualize", "trainer.max_epochs=10")
    assert cfg.model.code_dim == 2
    result = train(cfg)
    datamodule = build_datamodule(cfg)
    train_x, test_x = datamodule.inputs("train").flatten(1).numpy(), datamodule.inputs("test").flatten(1).numpy()
    projected = PCA(n_components=2).fit(train_x).transform(test_x)
    assert result.metrics["test/pca_trustworthiness"] == pytest.approx(trustworthiness(test_x, projected,
                                                                                       n_neighbors=5), abs=1e-6)
    assert 0.6 < result.metrics["test/trustworthiness"] <= 1.0
    png = Image.open(io.BytesIO(artifact(client, result.run_id, "visualization.png", tmp_path))).convert("L")
    pixels = np.asarray(png)
    assert pixels.shape[0] > 300 and pixels.std() > 10  # a drawn scatter plot, not a blank page


def test_visualize_needs_a_2d_code(make_config):
    with pytest.raises(ConfigError, match="model.code_dim=3 is not allowed: 2 for task=visualize"):
        train(make_config("task=visualize", "model.code_dim=3"))
    for code_dim in ("2", "128"):  # refused for the task, not by the model's own bound on its code
        with pytest.raises(ConfigError, match="model='overcomplete' is not allowed: a model with a 2-D code for "
                                              "task=visualize: model=overcomplete has a code larger than its input"):
            train(make_config("task=visualize", "model=overcomplete", f"model.code_dim={code_dim}"))


# ---- across tasks ----------------------------------------------------------------------------------------------

def test_a_task_is_tagged_and_named_on_its_run(make_config, client):
    result = train(make_config("task=inpaint"))
    run = client.get_run(result.run_id)
    assert run.data.tags["task"] == "inpaint" and run.data.tags["mlflow.runName"].endswith("-inpaint-s0")
    assert run.data.params["task.missing"] == "0.3"


def test_image_tasks_refuse_tables(make_config):
    for task in ("compress", "dewatermark"):
        with pytest.raises(ConfigError, match=f"task='{task}' is not allowed: .*needs images.*wine"):
            train(make_config(f"task={task}", "dataset=wine", "model.code_dim=4"))


def test_vectorised_seeds_keep_the_task(make_config):
    together = train_seed_list(make_config("task=anomaly", "seed=[0,1]"))
    alone = train(make_config("task=anomaly", "seed=1"))
    assert together[1].metrics["test/anomaly_auroc"] == pytest.approx(alone.metrics["test/anomaly_auroc"], abs=1e-3)


def train_seed_list(cfg):
    from aebench.run.train import train_seeds

    return train_seeds(cfg)


@pytest.mark.slow
def test_a_sweep_over_tasks_reports_each_task_in_its_own_table(tmp_path):
    from sweeps import aebench, runs

    grid = ["+sweep=quick", "sweep.datasets=[digits]", "sweep.models=[linear]", "sweep.regularizers=[none]",
            "sweep.tasks=[reconstruct,compress,colorize]", "sweep.seeds=1", "trainer.max_epochs=2",
            "model.code_dim=4,8"]
    done = aebench(tmp_path, *grid)
    assert done.returncode == 0, done.stderr
    trained_runs = runs(tmp_path)
    assert sorted(run.data.tags.get("task") for run in trained_runs) == ["compress"] * 2 + ["reconstruct"] * 2
    assert len({run.data.tags["run_key"] for run in trained_runs}) == 4
    baselines = [run for run in runs(tmp_path, pca=True) if run.data.tags["model"] == "pca"]
    assert sorted(run.data.params["model.code_dim"] for run in baselines) == ["4", "8"]  # for reconstruct only
    assert "digits linear none task=colorize seed=0 model.code_dim=4: task='colorize' is not allowed" in done.stdout

    (parent,) = runs(tmp_path, "sweep")
    folder = tmp_path / "reports" / parent.data.tags["sweep_id"]
    markdown = (folder / "leaderboard.md").read_text()
    assert "## digits\n\nRanked by PSNR (dB)." in markdown
    assert "## digits, task compress\n\nRanked by quantised PSNR (dB)." in markdown
    compress_table = markdown.split("## digits, task compress")[1].split("## Skipped")[0]
    header = "| quantised PSNR (dB) ↑ | bits per pixel ↓ | PCA PSNR at bpp (dB) ↑ | JPEG PSNR at bpp (dB) ↑ |"
    assert header in compress_table
    assert "| pca |" not in compress_table
    table = pd.read_csv(folder / "leaderboard.csv")
    assert sorted(set(table["task"])) == ["compress", "reconstruct"]
    compress_rows = table[table["task"] == "compress"].sort_values("code_dim")
    assert compress_rows["test/bpp"].tolist() == [4 * 8 / 64, 8 * 8 / 64]
    names = {path.name for path in folder.iterdir()}
    assert {"rate_distortion_digits_compress.png", "psnr_by_code_size_digits.png",
            "ranking_digits_compress.png"} <= names
    assert "psnr_by_code_size_digits_compress.png" not in names

    again = aebench(tmp_path, *grid)
    assert again.returncode == 0 and len(runs(tmp_path)) == 4  # resumed: nothing trained twice
