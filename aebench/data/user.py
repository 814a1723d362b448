"""The user's own data: an array in a ``.npy`` / ``.npz`` file, or a folder of PNG/JPEG images.

Arrays: (N, D) vectors, (N, H, W) grey images, (N, C, H, W) or (N, H, W, C) images with
C in 1, 3 or 4 (``layout`` settles a shape that fits both). Scaling (``scaling=auto``):
uint8 images are divided by 255; other images are mapped onto [0, 1] by one affine map (min to 0,
max to 1); vectors are standardised per feature with the train split's mean and deviation, so
PSNR and SSIM are not reported for them. ``unit``, ``standardize`` or ``none`` choose explicitly.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from aebench.data.arrays import DatasetArrays
from aebench.data.registry import register_dataset
from aebench.errors import DataError, require, require_choice, require_int

CHANNEL_COUNTS = (1, 3, 4)
SCALINGS = ("auto", "unit", "standardize", "none")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def _load_array(path: Path, key: str | None) -> tuple[np.ndarray, np.lib.npyio.NpzFile | None]:
    if not path.is_file():
        raise DataError(f"dataset.path={str(path)!r} does not exist: give a .npy or .npz file")
    try:
        loaded = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise DataError(f"{path} is not a readable .npy or .npz file ({error})") from None
    if isinstance(loaded, np.ndarray):
        return loaded, None
    names = list(loaded.files)
    chosen = key or (names[0] if len(names) == 1 else ("x" if "x" in names else None))
    if chosen not in names:
        raise DataError(f"dataset.key={key!r} is not an array of {path}: set dataset.key to one of {', '.join(names)}")
    return loaded[chosen], loaded


def _check_values(array: np.ndarray, what: str) -> None:
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise DataError(f"{what} holds {array.dtype} values: numbers are needed")
    if np.issubdtype(array.dtype, np.floating):
        bad = int((~np.isfinite(array)).sum())
        if bad:
            raise DataError(f"{what} holds {bad} NaN or infinite values: clean or impute them first")


def _as_images(array: np.ndarray, layout: str, what: str) -> np.ndarray:
    """(N, C, H, W) from a rank-3 or rank-4 array."""
    if array.ndim == 3:
        return array[:, None]
    first, last = array.shape[1] in CHANNEL_COUNTS, array.shape[-1] in CHANNEL_COUNTS
    if layout == "auto":
        if first == last:
            raise DataError(f"{what} is shaped {array.shape}: set dataset.layout=nchw or nhwc to say where the "
                            "channels are")
        layout = "nchw" if first else "nhwc"
    if layout == "nhwc":
        array = array.transpose(0, 3, 1, 2)
    if array.shape[1] not in CHANNEL_COUNTS:
        raise DataError(f"{what} has {array.shape[1]} channels with dataset.layout={layout}: 1, 3 or 4 are allowed")
    return np.ascontiguousarray(array)


def _labels(source: np.lib.npyio.NpzFile | None, labels_key: str | None, labels_path: str | None, count: int,
            what: str) -> torch.Tensor | None:
    if labels_path is not None:
        labels, _ = _load_array(Path(labels_path), None)
    elif source is not None and (labels_key or "labels") in source.files:
        labels = source[labels_key or "labels"]
    elif labels_key is not None:
        raise DataError(f"dataset.labels_key={labels_key!r} is not an array of {what}")
    else:
        return None
    if labels.ndim != 1 or len(labels) != count or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"the labels of {what} are {labels.dtype} shaped {labels.shape}: one integer per "
                        f"sample ({count}) is needed")
    return torch.from_numpy(labels.astype(np.int64))


@register_dataset
def npy(path: str | None = None, key: str | None = None, labels_key: str | None = None,
        labels_path: str | None = None, layout: str = "auto", scaling: str = "auto") -> DatasetArrays:
    require(path is not None, "path", path, "the .npy or .npz file to read (dataset.path=...)")
    require_choice("layout", layout, ("auto", "nchw", "nhwc"))
    require_choice("scaling", scaling, SCALINGS)
    array, source = _load_array(Path(path), key)
    what = f"{path}" + (f"[{key}]" if key else "")
    _check_values(array, what)
    if array.ndim not in (2, 3, 4) or array.shape[0] < 2:
        raise DataError(f"{what} is shaped {array.shape}: (N, D) vectors or (N, H, W), (N, C, H, W), (N, H, W, C) "
                        "images are allowed")
    images = array.ndim > 2
    if images:
        array = _as_images(array, layout, what)
    labels = _labels(source, labels_key, labels_path, len(array), what)
    scaling = ("unit" if images else "standardize") if scaling == "auto" else scaling
    if scaling == "unit" and array.dtype == np.uint8:
        return DatasetArrays("npy", torch.from_numpy(array), labels, unit_range=True)
    values = array.astype(np.float32)
    if scaling == "unit":
        low, high = float(values.min()), float(values.max())
        values = (values - low) / (high - low) if high > low else np.zeros_like(values)
    unit = scaling == "unit" or (scaling == "none" and values.min() >= 0 and values.max() <= 1)
    return DatasetArrays("npy", torch.from_numpy(values), labels, unit_range=unit,
                         standardize=scaling == "standardize")


@register_dataset
def images(path: str | None = None, size: int | Sequence[int] = 32, channels: int = 3) -> DatasetArrays:
    """Every PNG and JPEG under ``path``, converted to ``channels`` (1 grey, 3 RGB), resized to ``size``
    (an int for squares, or [height, width]). Images in subfolders take the subfolder as their label."""
    from PIL import Image, UnidentifiedImageError

    require(path is not None, "path", path, "the folder of images to read (dataset.path=...)")
    folder = Path(path)
    if not folder.is_dir():
        raise DataError(f"dataset.path={str(path)!r} is not a folder of images")
    require_choice("channels", channels, (1, 3))
    height, width = (size, size) if isinstance(size, int) else tuple(size)
    require_int("size", height, minimum=1), require_int("size", width, minimum=1)
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if len(files) < 2:
        raise DataError(f"{folder} holds {len(files)} PNG or JPEG images: at least 2 are needed")
    arrays = []
    for file in files:
        try:
            with Image.open(file) as image:
                converted = image.convert("L" if channels == 1 else "RGB").resize((width, height), Image.BILINEAR)
                arrays.append(np.asarray(converted, dtype=np.uint8))
        except (UnidentifiedImageError, OSError) as error:
            raise DataError(f"{file} is not a readable image ({error})") from None
    pixels = np.stack(arrays)
    pixels = pixels[:, None] if channels == 1 else pixels.transpose(0, 3, 1, 2)
    classes = sorted({file.parent for file in files})
    labels = None
    if all(file.parent != folder for file in files) and len(classes) > 1:
        index = {parent: number for number, parent in enumerate(classes)}
        labels = torch.tensor([index[file.parent] for file in files], dtype=torch.int64)
    return DatasetArrays("images", torch.from_numpy(np.ascontiguousarray(pixels)), labels, unit_range=True)
