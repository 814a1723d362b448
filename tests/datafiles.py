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
