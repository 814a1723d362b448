"""Compression: the code quantised to ``bits`` per value, decoded, and set against PCA and JPEG.

Each code unit is quantised uniformly over the range it takes on the train split
(2^bits levels, clipped), so a test image costs code_dim x bits bits: ``test/bpp`` is that
over its height x width pixels. ``test/compress_psnr`` is the PSNR of the decoded quantised
code; ``test/pca_compress_psnr`` the same for the k-component PCA with the same quantisation.

JPEG (Pillow) compresses the test images tiled into one mosaic, so its headers are shared as
one codec's would be across a dataset: ``test/jpeg_bpp`` is the rate of the quality whose rate
is nearest the autoencoder's, and ``test/jpeg_psnr_at_bpp`` JPEG's PSNR interpolated (linearly in
bits per pixel) at the autoencoder's rate, when some quality comes within 10 % of that rate (JPEG
spends about 1 bpp at least on 8x8 blocks, so low rates of small images are out of its reach).
The whole quality curve is the artifact ``jpeg_curve.json`` (the report's rate-distortion plot).
"""
from __future__ import annotations

import io
import json
import math

import numpy as np
import torch
from PIL import Image
from sklearn.decomposition import PCA

from aebench.errors import require_int
from aebench.ops.chunks import apply_in_chunks, device_of
from aebench.tasks.base import Task
from aebench.tasks.common import psnr_per_image

QUALITIES = (1, 2, 3, 5, 8, 10, 15, 20, 25, 30, 40, 50, 60, 70, 80, 90, 95, 100)
MATCH_TOLERANCE = 0.1  # a JPEG rate within 10 % of the target matches it


def quantise(codes: torch.Tensor, low: torch.Tensor, high: torch.Tensor, bits: int) -> torch.Tensor:
    """Uniform quantisation of each unit over [low, high] to 2^bits levels, returned dequantised."""
    levels = 2 ** bits - 1
    span = (high - low).clamp_min(1e-12)
    steps = torch.round((codes - low) / span * levels).clamp(0, levels)
    return low + steps / levels * span


def mosaic(images: np.ndarray) -> tuple[np.ndarray, int]:
    """uint8 images (N, C, H, W) tiled row by row into one (rows*H, cols*W[, C]) picture; and cols."""
    count, channels, height, width = images.shape
    cols = math.ceil(math.sqrt(count))
    rows = math.ceil(count / cols)
    canvas = np.zeros((rows * height, cols * width, channels), dtype=np.uint8)
    for index in range(count):
        top, left = (index // cols) * height, (index % cols) * width
        canvas[top:top + height, left:left + width] = images[index].transpose(1, 2, 0)
    return (canvas[:, :, 0] if channels == 1 else canvas), cols


def jpeg_point(images: np.ndarray, quality: int) -> tuple[float, float]:
    """(bits per pixel, mean PSNR over images) of the mosaic at one JPEG quality."""
    picture, cols = mosaic(images)
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="JPEG", quality=quality)
    decoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue())), dtype=np.float32) / 255
    decoded = decoded[:, :, None] if decoded.ndim == 2 else decoded
    count, _, height, width = images.shape
    tiles = [decoded[(i // cols) * height:(i // cols + 1) * height, (i % cols) * width:(i % cols + 1) * width]
             for i in range(count)]
    estimate = torch.from_numpy(np.stack(tiles).transpose(0, 3, 1, 2).copy())
    bpp = 8 * len(buffer.getvalue()) / (count * height * width)
    return bpp, psnr_per_image(estimate, torch.from_numpy(images.astype(np.float32) / 255)).mean().item()


def jpeg_at(images: np.ndarray, target_bpp: float) -> tuple[list[tuple[int, float, float]], float, float]:
    """(curve [(quality, bpp, psnr)], the achieved bpp nearest the target, PSNR interpolated at the
    target, or NaN where no JPEG quality comes within 10 % of it). The quality is searched by bisection,
    bpp rising with it; just outside JPEG's range (within the 10 %), the end point's PSNR stands."""
    curve = {q: jpeg_point(images, q) for q in QUALITIES}
    low, high = 1, 100
    while high - low > 1:  # bisection on the monotone rate
        middle = (low + high) // 2
        curve.setdefault(middle, jpeg_point(images, middle))
        low, high = (middle, high) if curve[middle][0] < target_bpp else (low, middle)
    points = sorted((q, *curve[q]) for q in curve)
    nearest = min(points, key=lambda point: abs(point[1] - target_bpp))[1]
    rates, psnrs = np.array([p[1] for p in points]), np.array([p[2] for p in points])
    order = np.argsort(rates)
    matched = abs(nearest - target_bpp) <= MATCH_TOLERANCE * target_bpp
    inside = rates.min() <= target_bpp <= rates.max()
    at_target = float(np.interp(target_bpp, rates[order], psnrs[order])) if inside or matched else float("nan")
    return points, nearest, at_target


class Compress(Task):
    name = "compress"
    data_needs = ("images", "unit_range")
    primary_metrics = ("test/compress_psnr",)
    headline = ("test/bpp", "test/compress_psnr", "test/pca_compress_psnr", "test/jpeg_bpp", "test/jpeg_psnr_at_bpp")

    def __init__(self, bits: int = 8):
        self.bits = require_int("bits", bits, minimum=1, maximum=16)

    def evaluate(self, model, datamodule):
        device = device_of(model)
        train_x, test_x = datamodule.inputs("train"), datamodule.inputs("test")
        train_codes = apply_in_chunks(model.code_of, train_x, device=device)
        test_codes = apply_in_chunks(model.code_of, test_x, device=device)
        low, high = train_codes.min(0).values, train_codes.max(0).values
        decoded = apply_in_chunks(model.decode, quantise(test_codes, low, high, self.bits), device=device)
        _, height, width = test_x.shape[1:]
        bpp = model.code_dim * self.bits / (height * width)
        metrics = {"test/bpp": bpp, "test/compress_psnr": psnr_per_image(decoded, test_x).mean().item()}

        components = min(model.code_dim, train_x[0].numel(), len(train_x))
        pca = PCA(n_components=components, svd_solver="full").fit(train_x.flatten(1).double().numpy())
        pca_train = torch.from_numpy(pca.transform(train_x.flatten(1).double().numpy()))
        pca_test = torch.from_numpy(pca.transform(test_x.flatten(1).double().numpy()))
        quantised = quantise(pca_test, pca_train.min(0).values, pca_train.max(0).values, self.bits)
        pca_decoded = torch.from_numpy(pca.inverse_transform(quantised.numpy())).float().view_as(test_x)
        metrics["test/pca_compress_psnr"] = psnr_per_image(pca_decoded, test_x).mean().item()

        images = (test_x.clamp(0, 1) * 255).round().to(torch.uint8).numpy()
        curve, nearest, at_target = jpeg_at(images, bpp)
        metrics["test/jpeg_bpp"] = nearest
        if not math.isnan(at_target):
            metrics["test/jpeg_psnr_at_bpp"] = at_target
        curve_json = json.dumps([{"quality": q, "bpp": b, "psnr": p} for q, b, p in curve], indent=1)
        return metrics, {"jpeg_curve.json": curve_json.encode()}
