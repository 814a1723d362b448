"""Small files in the standard formats, written for the dataset tests (no network)."""
from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import numpy as np


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_mnist(folder: Path, n_train: int = 40, n_test: int = 12, gzipped: bool = True, seed: int = 0) -> dict:
    """An MNIST-format dataset of random digits-like images; returns the arrays written."""
    rng = np.random.default_rng(seed)
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
              "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
              "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
              "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8)}
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        data = idx_bytes(array)
        if gzipped:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)
    return arrays


def structured_digits(kind: str, count: int, rng: np.random.Generator) -> np.ndarray:
    """28 x 28 uint8 images of one structure: ``blobs`` (three Gaussian blobs, as
    scripts/make_mnist_sized.py draws) or ``bars`` (two horizontal or vertical bars)."""
    grid = np.arange(28, dtype=np.float32)
    if kind == "blobs":
        rows, columns = np.meshgrid(grid, grid, indexing="ij")
        centres = rng.uniform(6, 22, (count, 3, 2)).astype(np.float32)
        widths = rng.uniform(2, 5, (count, 3, 1, 1)).astype(np.float32)
        squared = (rows[None, None] - centres[:, :, 0, None, None]) ** 2 + \
            (columns[None, None] - centres[:, :, 1, None, None]) ** 2
        pixels = np.exp(-squared / (2 * widths ** 2)).sum(1)
    else:
        positions = rng.integers(2, 24, (count, 2))
        profile = ((grid[None, None, :] >= positions[:, :, None]) & (grid[None, None, :] < positions[:, :, None] + 3))
        bars = profile.any(1).astype(np.float32)  # (count, 28): which rows (or columns) are lit
        vertical = rng.random(count) < 0.5
        pixels = np.where(vertical[:, None, None], bars[:, None, :], bars[:, :, None]) * np.ones((1, 28, 28))
    return np.clip(pixels * 255, 0, 255).astype(np.uint8)


def write_structured_mnist(folder: Path, kind: str, n_train: int, n_test: int, seed: int = 0) -> None:
    """An MNIST-format dataset of ``structured_digits(kind)``, labels at random."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, count in (("train", n_train), ("t10k", n_test)):
        (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(structured_digits(kind, count, rng))))
        (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(
            gzip.compress(idx_bytes(rng.integers(0, 10, count, dtype=np.uint8))))


def cifar_records(count: int, seed: int) -> tuple[bytes, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, count, dtype=np.uint8)
    pixels = rng.integers(0, 256, (count, 3 * 32 * 32), dtype=np.uint8)
    return np.hstack([labels[:, None], pixels]).tobytes(), labels, pixels.reshape(count, 3, 32, 32)


CIFAR_FILES = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]


def write_cifar(folder: Path, per_file: int = 4) -> list[tuple[np.ndarray, np.ndarray]]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for number, name in enumerate(CIFAR_FILES):
        data, labels, pixels = cifar_records(per_file, number)
        (folder / name).write_bytes(data)
        written.append((labels, pixels))
    return written


def cifar_archive(path: Path, per_file: int = 3) -> None:
    with tarfile.open(path, "w:gz") as bundle:
        for number, name in enumerate(CIFAR_FILES):
            data = cifar_records(per_file, number)[0]
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(data)
            bundle.addfile(info, io.BytesIO(data))
