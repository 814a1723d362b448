"""Every dataset option from files in its standard format, and each way a file can be wrong."""
import gzip

import numpy as np
import pytest
import torch
from datafiles import cifar_archive, idx_bytes, write_cifar, write_mnist
from PIL import Image

from aebench.data import AutoencoderDataModule, load_dataset
from aebench.data import cifar as cifar_module
from aebench.data import idx as idx_module
from aebench.data.files import md5
from aebench.errors import DataError


@pytest.mark.parametrize("gzipped", [True, False])
@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "kmnist"])
def test_mnist_family_reads_idx_files(tmp_path, name, gzipped):
    written = write_mnist(tmp_path / name, gzipped=gzipped)
    data = load_dataset(name, root=str(tmp_path))
    assert data.x.dtype == torch.uint8 and data.x.shape == (52, 1, 28, 28) and data.is_image and data.unit_range
    assert torch.equal(data.x[:40, 0], torch.from_numpy(written["train-images-idx3-ubyte"]))
    assert torch.equal(data.labels[40:], torch.from_numpy(written["t10k-labels-idx1-ubyte"].astype(np.int64)))
    module = AutoencoderDataModule(data, batch_size=8, val_fraction=0.25)
    assert module.split.test.tolist() == list(range(40, 52))  # the published test set
    assert len(module.split.val) == 10 and len(module.split.train) == 30
    test_inputs = module.inputs("test")
    assert test_inputs.dtype == torch.float32 and test_inputs.max() <= 1.0
    assert torch.allclose(test_inputs[:, 0] * 255, torch.from_numpy(written["t10k-images-idx3-ubyte"]).float())
    batches = [batch for group in module.train_dataloader() for batch in group]
    assert all(b.dtype == torch.float32 for b in batches) and module.resident("train").dtype == torch.uint8
    pooled = AutoencoderDataModule(load_dataset(name, root=str(tmp_path), official_split=False), test_fraction=0.25)
    assert pooled.split.test.tolist() != list(range(40, 52)) and len(pooled.split.test) == 13


def test_missing_files_say_which_and_where(tmp_path):
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / "train-images-idx3-ubyte").write_bytes(idx_bytes(np.zeros((2, 28, 28))))
    with pytest.raises(DataError) as error:
        load_dataset("mnist", root=str(tmp_path))
    message = str(error.value)
    assert f"in {tmp_path / 'mnist'}/" in message and "train-labels-idx1-ubyte[.gz]" in message
    assert "train-images" not in message and "dataset.download=true" in message


@pytest.mark.parametrize("damage,expected", [
    (lambda data: b"\x00\x00\x08\x01" + data[4:], "magic number 0x00000801, expected 0x00000803"),
    (lambda data: data[:-100], "wrong length: its header says (40, 28, 28) = 31360 values, the file holds 31260"),
    (lambda data: data[:6], "truncated: 6 bytes"),
])
def test_corrupt_idx_files_are_refused(tmp_path, damage, expected):
    write_mnist(tmp_path / "mnist", gzipped=False)
    path = tmp_path / "mnist" / "train-images-idx3-ubyte"
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(DataError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        load_dataset("mnist", root=str(tmp_path))


def test_a_broken_gzip_and_mismatched_counts_are_refused(tmp_path):
    write_mnist(tmp_path / "mnist")
    path = tmp_path / "mnist" / "train-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(DataError, match="is corrupt: it cannot be read as gzip"):
        load_dataset("mnist", root=str(tmp_path))
    path.write_bytes(gzip.compress(idx_bytes(np.zeros(7, dtype=np.uint8))))
    with pytest.raises(DataError, match="train images and labels disagree \\(40 images, 7 labels\\)"):
        load_dataset("mnist", root=str(tmp_path))


def test_download_checks_the_checksum(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    write_mnist(mirror)
    sums = [md5(mirror / f"{name}.gz") for name in idx_module.FILES]
    monkeypatch.setitem(idx_module.SOURCES, "mnist", ([mirror.as_uri()], sums))
    data = load_dataset("mnist", root=str(tmp_path / "data"), download=True)
    assert data.x.shape == (52, 1, 28, 28) and (tmp_path / "data" / "mnist" / "t10k-images-idx3-ubyte.gz").is_file()

    wrong = ["0" * 32] + sums[1:]
    monkeypatch.setitem(idx_module.SOURCES, "mnist", ([mirror.as_uri()], wrong))
    with pytest.raises(DataError, match="has a bad checksum: MD5 [0-9a-f]{32}, expected 0{32}; nothing was kept"):
        load_dataset("mnist", root=str(tmp_path / "fresh"), download=True)
    assert not list((tmp_path / "fresh" / "mnist").glob("*.gz"))
    with pytest.raises(DataError, match="could not download train-images-idx3-ubyte.gz .*put it in"):
        load_dataset("mnist", root=str(tmp_path / "fresh"), download=True, mirrors=[(tmp_path / "nowhere").as_uri()])


def test_cifar10_reads_the_binary_batches(tmp_path):
    written = write_cifar(tmp_path / "cifar10")
    data = load_dataset("cifar10", root=str(tmp_path))
    assert data.x.shape == (24, 3, 32, 32) and data.x.dtype == torch.uint8 and data.labels.shape == (24,)
    labels, pixels = written[-1]
    assert torch.equal(data.x[20:], torch.from_numpy(pixels)) and data.test_indices.tolist() == list(range(20, 24))
    assert torch.equal(data.labels[20:], torch.from_numpy(labels.astype(np.int64)))


def test_cifar10_refuses_broken_files_and_downloads_the_archive(tmp_path, monkeypatch):
    write_cifar(tmp_path / "cifar10")
    (tmp_path / "cifar10" / "test_batch.bin").write_bytes(b"\x01" * 5000)
    with pytest.raises(DataError, match="wrong length: 5000 bytes is not a whole number of 3073-byte"):
        load_dataset("cifar10", root=str(tmp_path))
    (tmp_path / "cifar10" / "test_batch.bin").write_bytes(b"\x0c" * 3073)
    with pytest.raises(DataError, match="is not CIFAR-10: label 12 found"):
        load_dataset("cifar10", root=str(tmp_path))
    (tmp_path / "cifar10" / "test_batch.bin").unlink()
    with pytest.raises(DataError, match="needs test_batch.bin in .*cifar10/ .*dataset.download=true"):
        load_dataset("cifar10", root=str(tmp_path))

    mirror = tmp_path / "mirror"
    mirror.mkdir()
    cifar_archive(mirror / "cifar-10-binary.tar.gz")
    monkeypatch.setattr(cifar_module, "ARCHIVE_MD5", md5(mirror / "cifar-10-binary.tar.gz"))
    data = load_dataset("cifar10", root=str(tmp_path / "fresh"), download=True, mirrors=[mirror.as_uri()])
    assert data.x.shape == (18, 3, 32, 32)


def test_npy_vectors_are_standardised_on_the_train_split(tmp_path):
    rng = np.random.default_rng(0)
    values = rng.normal(5.0, 3.0, (200, 6)).astype(np.float32)
    np.save(tmp_path / "table.npy", values)
    data = load_dataset("npy", path=str(tmp_path / "table.npy"))
    assert not data.unit_range and data.standardize and data.labels is None
    module = AutoencoderDataModule(data)
    train = module.inputs("train")
    assert torch.allclose(train.mean(0), torch.zeros(6), atol=1e-5) and torch.allclose(train.std(0), torch.ones(6), atol=1e-4)


@pytest.mark.parametrize("shape,layout,expected", [((30, 9, 7), "auto", (1, 9, 7)), ((30, 3, 8, 8), "auto", (3, 8, 8)),
                                                   ((30, 8, 6, 3), "auto", (3, 8, 6)), ((30, 3, 5, 3), "nhwc", (3, 3, 5))])
def test_npz_images_in_every_layout(tmp_path, shape, layout, expected):
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, shape, dtype=np.uint8)
    labels = rng.integers(0, 4, shape[0])
    np.savez(tmp_path / "images.npz", x=pixels, labels=labels)
    data = load_dataset("npy", path=str(tmp_path / "images.npz"), layout=layout)
    assert data.sample_shape == expected and data.x.dtype == torch.uint8 and data.unit_range
    assert torch.equal(data.labels, torch.from_numpy(labels.astype(np.int64)))
    floats = (pixels.astype(np.float32) - 100) / 7
    np.save(tmp_path / "floats.npy", floats)
    scaled = load_dataset("npy", path=str(tmp_path / "floats.npy"), layout=layout).x
    assert scaled.min() == 0 and scaled.max() == 1 and scaled.dtype == torch.float32


@pytest.mark.parametrize("array,expected", [
    (np.array([[1.0, np.nan], [0.0, 1.0]]), "holds 1 NaN or infinite values"),
    (np.array([[1.0, np.inf], [0.0, 1.0], [2.0, 2.0]]), "holds 1 NaN or infinite values"),
    (np.arange(10.0), r"is shaped \(10,\): \(N, D\) vectors or"),
    (np.zeros((2, 3, 4, 5, 6)), r"is shaped \(2, 3, 4, 5, 6\)"),
    (np.zeros((5, 3, 6, 3)), "set dataset.layout=nchw or nhwc"),
    (np.array(["a", "b"]), "holds <U1 values: numbers are needed"),
])
def test_bad_arrays_are_refused(tmp_path, array, expected):
    np.save(tmp_path / "bad.npy", array)
    with pytest.raises(DataError, match=expected):
        load_dataset("npy", path=str(tmp_path / "bad.npy"))


def test_npy_paths_keys_and_pickles(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_dataset("npy", path=str(tmp_path / "missing.npy"))
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="is not a readable .npy or .npz file"):
        load_dataset("npy", path=str(tmp_path / "objects.npy"))
    np.savez(tmp_path / "two.npz", first=np.zeros((4, 2)), second=np.zeros((4, 2)))
    with pytest.raises(DataError, match="set dataset.key to one of first, second"):
        load_dataset("npy", path=str(tmp_path / "two.npz"))
    np.savez(tmp_path / "labelled.npz", x=np.zeros((4, 2)), labels=np.zeros(3, dtype=int))
    with pytest.raises(DataError, match=r"one integer per sample \(4\) is needed"):
        load_dataset("npy", path=str(tmp_path / "labelled.npz"))


def test_image_folders_with_class_subfolders(tmp_path):
    rng = np.random.default_rng(2)
    for label, suffix in (("cats", "png"), ("dogs", "jpg")):
        (tmp_path / label).mkdir()
        for number in range(3):
            pixels = rng.integers(0, 256, (20 + number, 30, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / label / f"{number}.{suffix}")
    data = load_dataset("images", path=str(tmp_path), size=[12, 16])
    assert data.x.shape == (6, 3, 12, 16) and data.x.dtype == torch.uint8 and data.labels.tolist() == [0, 0, 0, 1, 1, 1]
    grey = load_dataset("images", path=str(tmp_path), size=8, channels=1)
    assert grey.sample_shape == (1, 8, 8)
    (tmp_path / "dogs" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="broken.png is not a readable image"):
        load_dataset("images", path=str(tmp_path), size=8, channels=1)
    with pytest.raises(DataError, match="is not a folder of images"):
        load_dataset("images", path=str(tmp_path / "nowhere"))


def test_patches_are_the_same_for_the_same_seed():
    first, again = load_dataset("patches", data_seed=3), load_dataset("patches", patch_size=16, n_patches=6000, data_seed=3)
    assert torch.equal(first.x, again.x) and first.x.shape == (6000, 3, 16, 16) and first.x.dtype == torch.uint8
    other = load_dataset("patches", data_seed=4)
    assert not torch.equal(first.x, other.x)
    assert first.x.float().std() > 20  # real photographs, not flat colour


@pytest.mark.parametrize("name,features,classes", [("breast_cancer", 30, 2), ("wine", 13, 3)])
def test_bundled_tables(name, features, classes):
    data = load_dataset(name)
    assert data.sample_shape == (features,) and not data.unit_range and data.standardize
    assert len(set(data.labels.tolist())) == classes


def test_synthetic_manifold_is_a_rolled_sheet():
    data = load_dataset("synthetic_manifold", n_samples=1000, dim=16, noise_std=0.0)
    x = data.x.double()
    singular = torch.linalg.svdvals(x - x.mean(0))
    assert singular[3] < 1e-5 * singular[0]  # three linear directions: a roll in a 3-D subspace
    train = AutoencoderDataModule(data).inputs("train")  # scaled onto [0, 1] by the train split's extremes
    assert data.unit_range and train.min() == 0 and train.max() == 1 and len(set(data.labels.tolist())) == 5


@pytest.mark.parametrize("model", ["conv", "stacked"])
def test_training_on_mnist_files_through_the_real_config(make_config, tmp_path, model):
    from aebench.run.train import train

    write_mnist(tmp_path / "mnist", n_train=60, n_test=20)
    result = train(make_config("dataset=mnist", f"dataset.root={tmp_path}", f"model={model}", "trainer.max_epochs=2",
                               "model.pretrain_epochs=1" if model == "stacked" else "seed=0"))
    assert result.status == "FINISHED" and -1 < result.metrics["test/ssim"] < 1 and result.metrics["test/psnr"] > 5
    assert result.metrics["model/code_dim"] == 16


@pytest.mark.slow
def test_nonlinear_codes_beat_pca_on_the_swiss_roll(make_config):
    """With a 2-D code, a deep autoencoder unrolls the sheet that two principal components cannot."""
    from aebench.evaluate.pca import pca_baseline
    from aebench.run.plan import build_datamodule
    from aebench.run.train import train

    cfg = make_config("dataset=synthetic_manifold", "model=deep", "model.code_dim=2", "model.hidden_dims=[64,32]",
                      "model.code_activation=identity", "trainer.max_epochs=150", "trainer.lr=3e-3",
                      "trainer.patience=null", "trainer.lr_schedule=none")  # a fixed budget: the sheet unrolls late
    autoencoder = train(cfg).metrics["test/mse"]
    pca, _ = pca_baseline(build_datamodule(cfg), 2)
    assert autoencoder < 0.7 * pca["test/mse"]


def test_patches_are_split_by_region_so_no_pixel_is_in_two_splits():
    from sklearn.datasets import load_sample_images

    from aebench.data.patches import patch_positions

    arrays = load_dataset("patches")
    split = AutoencoderDataModule(arrays).split
    photos = load_sample_images().images
    where = patch_positions(427, 640, 2, 16, 6000, 0)
    covered = {}
    for name in ("train", "val", "test"):
        mask = np.zeros((2, 427, 640), dtype=bool)
        for index in getattr(split, name).tolist():
            top, left = where.top[index], where.left[index]
            mask[where.photo[index], top:top + 16, left:left + 16] = True
        covered[name] = mask
    assert not (covered["train"] & covered["test"]).any()
    assert not (covered["train"] & covered["val"]).any() and not (covered["val"] & covered["test"]).any()
    assert (len(split.train), len(split.val), len(split.test)) == (4200, 600, 1200)
    for index in (0, 4321, 5999):  # each image is the crop its position says
        top, left = where.top[index], where.left[index]
        crop = photos[where.photo[index]][top:top + 16, left:left + 16].transpose(2, 0, 1)
        assert np.array_equal(arrays.x[index].numpy(), crop)


def test_data_root_and_its_environment_variable_reach_every_file_backed_dataset(monkeypatch):
    from hydra import compose, initialize_config_dir

    from aebench.config import config_dir
    from aebench.sweep.keys import run_key

    def composed(*overrides):
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            return compose("config", overrides=list(overrides))

    monkeypatch.delenv("AEBENCH_DATA", raising=False)
    assert composed("dataset=mnist").dataset.root == "data"
    for name in ("mnist", "fashion_mnist", "kmnist", "cifar10"):
        assert composed(f"dataset={name}", "data_root=/shared/datasets").dataset.root == "/shared/datasets"
    monkeypatch.setenv("AEBENCH_DATA", "/from/the/environment")
    assert composed("dataset=kmnist").dataset.root == "/from/the/environment"
    assert run_key(composed("data_root=/a")) == run_key(composed("data_root=/b"))  # digits reads no files: same run
