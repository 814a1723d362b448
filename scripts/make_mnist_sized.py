"""Write an MNIST-sized dataset in the MNIST IDX format (60,000 + 10,000 images of 28x28) for
benchmarks on machines that cannot download MNIST: smooth random blobs, so it is learnable.

    python scripts/make_mnist_sized.py <root> [train count] [test count]   # writes <root>/mnist/*-ubyte.gz
"""
from __future__ import annotations

import gzip
import sys
from pathlib import Path

import numpy as np


def idx(array: np.ndarray) -> bytes:
    return bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape) + array.tobytes()


def images(count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    grid = np.stack(np.meshgrid(np.arange(28), np.arange(28), indexing="ij"), axis=-1).astype(np.float32)
    labels = rng.integers(0, 10, count).astype(np.uint8)
    centres = rng.uniform(6, 22, (count, 3, 2)).astype(np.float32)
    widths = rng.uniform(2, 5, (count, 3, 1, 1)).astype(np.float32)
    blobs = np.exp(-((grid[None, None] - centres[:, :, None, None]) ** 2).sum(-1) / (2 * widths ** 2))
    pixels = np.clip(blobs.sum(1) * 255, 0, 255).astype(np.uint8)
    return pixels, labels


def main() -> None:
    folder = Path(sys.argv[1]) / "mnist"
    counts = [int(n) for n in sys.argv[2:4]] or [60000, 10000]
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix, count in zip(("train", "t10k"), counts):
        pixels, labels = images(count, rng)
        (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx(pixels), compresslevel=1))
        (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx(labels), compresslevel=1))
    print(f"wrote an MNIST-sized dataset to {folder}")


if __name__ == "__main__":
    main()
