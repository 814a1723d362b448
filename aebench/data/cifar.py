"""CIFAR-10 (Krizhevsky 2009) from its binary distribution; no pickle is ever loaded.

Each file holds records of 1 label byte and 3,072 pixel bytes (1,024 red, then green, then blue,
row-major 32x32): ``data_batch_1.bin`` .. ``data_batch_5.bin`` and ``test_batch.bin``, 10,000
records each, read from ``<root>/cifar10/`` (or its ``cifar-10-batches-bin/`` folder).
"""
from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np
import torch

from aebench.data.arrays import DatasetArrays
from aebench.data.files import download as fetch
from aebench.data.files import read_bytes
from aebench.data.registry import register_dataset
from aebench.errors import DataError

FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6)) + ("test_batch.bin",)
RECORD = 1 + 3 * 32 * 32
ARCHIVE, ARCHIVE_MD5 = "cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530"
MIRRORS = ["https://www.cs.toronto.edu/~kriz"]
INNER = "cifar-10-batches-bin"


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(images (n, 3, 32, 32) uint8, labels (n,) int64) of one binary batch file."""
    data = read_bytes(path)
    if len(data) == 0 or len(data) % RECORD:
        raise DataError(f"{path} has the wrong length: {len(data)} bytes is not a whole number of "
                        f"{RECORD}-byte CIFAR-10 records")
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, RECORD)
    labels = records[:, 0].astype(np.int64)
    if labels.max() > 9:
        raise DataError(f"{path} is not CIFAR-10: label {labels.max()} found, labels are 0..9")
    return records[:, 1:].reshape(-1, 3, 32, 32), labels


def extract(archive: Path, folder: Path) -> None:
    """Only the six expected regular files, never a path the archive chooses."""
    try:
        with tarfile.open(archive, "r:gz") as bundle:
            for name in FILES:
                member = bundle.getmember(f"{INNER}/{name}")
                if not member.isfile():
                    raise DataError(f"{archive}: {member.name} is not a regular file")
                with bundle.extractfile(member) as source:
                    (folder / name).write_bytes(source.read())
    except (tarfile.TarError, KeyError, OSError) as error:
        raise DataError(f"{archive} is not the CIFAR-10 binary archive ({error})") from None


@register_dataset
def cifar10(root: str = "data", download: bool = False, official_split: bool = True,
            mirrors: list[str] | None = None) -> DatasetArrays:
    """CIFAR-10: 50,000 + 10,000 colour images of 32x32 in 10 classes."""
    folder = Path(root) / "cifar10"
    if (folder / INNER).is_dir():
        folder = folder / INNER
    missing = [name for name in FILES if not (folder / name).is_file()]
    if missing and download:
        folder.mkdir(parents=True, exist_ok=True)
        extract(fetch(ARCHIVE, mirrors or MIRRORS, ARCHIVE_MD5, folder / ARCHIVE), folder)
        missing = []
    if missing:
        raise DataError(f"dataset=cifar10 needs {', '.join(missing)} in {folder}/ (the binary version, "
                        f"{ARCHIVE}, unpacked); set dataset.download=true to fetch it")
    batches = [read_batch(folder / name) for name in FILES]
    images = torch.from_numpy(np.concatenate([b[0] for b in batches]))
    labels = torch.from_numpy(np.concatenate([b[1] for b in batches]))
    n_test = len(batches[-1][0])
    test = torch.arange(len(images) - n_test, len(images)) if official_split else None
    return DatasetArrays("cifar10", images, labels, unit_range=True, test_indices=test)
