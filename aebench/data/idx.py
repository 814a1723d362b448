"""MNIST, Fashion-MNIST and Kuzushiji-MNIST from their standard IDX files.

IDX (LeCun et al., http://yann.lecun.com/exdb/mnist/): two zero bytes, a type byte (0x08 for
unsigned bytes), the number of dimensions, each dimension as a big-endian 32-bit integer, then
the values. Files are read from ``<root>/<name>/``, gzipped or not; the official 10,000-image
test set is the test split unless ``official_split=false``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from aebench.data.arrays import DatasetArrays
from aebench.data.files import download, find, read_bytes
from aebench.data.registry import register_dataset
from aebench.errors import DataError

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
SOURCES = {  # mirrors, and the MD5 of each gzipped file as published (and as torchvision checks them)
    "mnist": (["https://ossci-datasets.s3.amazonaws.com/mnist", "http://yann.lecun.com/exdb/mnist"],
              ["f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
               "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c"]),
    "fashion_mnist": (["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com",
                       "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion"],
                      ["8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
                       "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310"]),
    "kmnist": (["http://codh.rois.ac.jp/kmnist/dataset/kmnist"],
               ["bdb82020997e1d708af4cf47b453dcf7", "e144d726b3acfaa3e44228e80efcd344",
                "5c965bf0a639b31b8f53240b1b52f4d7", "7320c461ea6c1c855c0b718fb2a4b134"]),
}
UNSIGNED_BYTE = 0x08


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """The uint8 array of an IDX file with ``ndim`` dimensions; a wrong header or length is refused."""
    data = read_bytes(path)
    expected_magic = (UNSIGNED_BYTE << 8) | ndim
    if len(data) < 4 + 4 * ndim:
        raise DataError(f"{path} is truncated: {len(data)} bytes, shorter than an IDX header")
    magic = int.from_bytes(data[:4], "big")
    if magic != expected_magic:
        raise DataError(f"{path} is not an IDX file of {ndim}-D unsigned bytes: magic number 0x{magic:08x}, "
                        f"expected 0x{expected_magic:08x}")
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    body = data[4 + 4 * ndim:]
    if len(body) != int(np.prod(shape)):
        raise DataError(f"{path} has the wrong length: its header says {shape} = {int(np.prod(shape))} values, "
                        f"the file holds {len(body)}")
    return np.frombuffer(body, dtype=np.uint8).reshape(shape)


def mnist_family(name: str, root: str, download_missing: bool, official_split: bool,
                 mirrors: list[str] | None) -> DatasetArrays:
    folder = Path(root) / name
    default_mirrors, checksums = SOURCES[name]
    paths = []
    for file, checksum in zip(FILES, checksums):
        path = find(folder, file)
        if path is None and download_missing:
            path = download(f"{file}.gz", mirrors or default_mirrors, checksum, folder / f"{file}.gz")
        paths.append(path)
    missing = [f"{file}[.gz]" for file, path in zip(FILES, paths) if path is None]
    if missing:
        raise DataError(f"dataset={name} needs {', '.join(missing)} in {folder}/: put the standard IDX files "
                        f"there (gzipped or not), or set dataset.download=true to fetch them")
    train_images, train_labels, test_images, test_labels = (read_idx(p, 3 if "images" in p.name else 1) for p in paths)
    for images, labels, split in ((train_images, train_labels, "train"), (test_images, test_labels, "t10k")):
        if len(images) != len(labels):
            raise DataError(f"{folder}: {split} images and labels disagree "
                            f"({len(images)} images, {len(labels)} labels)")
    images = torch.from_numpy(np.concatenate([train_images, test_images])).unsqueeze(1)  # (N, 1, 28, 28) uint8
    labels = torch.from_numpy(np.concatenate([train_labels, test_labels]).astype(np.int64))
    test = torch.arange(len(train_images), len(images)) if official_split else None
    return DatasetArrays(name, images, labels, unit_range=True, test_indices=test)


@register_dataset
def mnist(root: str = "data", download: bool = False, official_split: bool = True,
          mirrors: list[str] | None = None) -> DatasetArrays:
    """MNIST handwritten digits: 60,000 + 10,000 images of 28x28."""
    return mnist_family("mnist", root, download, official_split, mirrors)


@register_dataset
def fashion_mnist(root: str = "data", download: bool = False, official_split: bool = True,
                  mirrors: list[str] | None = None) -> DatasetArrays:
    """Fashion-MNIST (Xiao, Rasul & Vollgraf 2017): Zalando article images in MNIST's format."""
    return mnist_family("fashion_mnist", root, download, official_split, mirrors)


@register_dataset
def kmnist(root: str = "data", download: bool = False, official_split: bool = True,
           mirrors: list[str] | None = None) -> DatasetArrays:
    """Kuzushiji-MNIST (Clanuwat et al. 2018): cursive Japanese characters in MNIST's format."""
    return mnist_family("kmnist", root, download, official_split, mirrors)
