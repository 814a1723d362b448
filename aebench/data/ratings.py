"""Rating matrices for ``task=recommend``: one sample per user, one value per item, the rating
divided by 5 where the user rated the item and 0 where not (so values lie in [0, 1] and 0 means
missing: ``DatasetArrays.ratings``).

- ``synthetic_ratings`` (bundled, seeded): users and items with ``rank`` latent preferences; a
  rating is 3 + the scaled preference match + noise, rounded and clipped to 1..5 stars; which
  items a user rates follows a popularity skew (Zipf-like), ``density`` of the matrix in all.
- ``movielens``: MovieLens 100K (Harper & Konstan 2015; 943 users, 1,682 movies, 100,000 ratings)
  from its ``u.data`` file (tab-separated user id, item id, rating, timestamp) in
  ``<root>/movielens/`` or ``<root>/movielens/ml-100k/``; ``download=true`` fetches GroupLens's
  ``ml-100k.zip`` and checks it against the MD5 the same server publishes beside it.
"""
from __future__ import annotations

import io
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import torch

from aebench.data.arrays import DatasetArrays
from aebench.data.files import DOWNLOAD_TIMEOUT_S, download, find, read_bytes
from aebench.data.registry import register_dataset
from aebench.errors import DataError, require, require_int, require_number

STARS = 5.0
MOVIELENS_MIRRORS = ["https://files.grouplens.org/datasets/movielens"]
MIN_RATINGS_PER_USER = 5


def rating_matrix(users: np.ndarray, items: np.ndarray, stars: np.ndarray, shape: tuple[int, int]) -> torch.Tensor:
    """(users, items) float32: stars / 5 where rated, 0 elsewhere (the last rating of a repeated pair)."""
    require(bool(np.all((stars >= 1) & (stars <= STARS))), "ratings", f"{stars.min()}..{stars.max()}",
            "ratings from 1 to 5 stars")
    matrix = np.zeros(shape, dtype=np.float32)
    matrix[users, items] = stars / STARS
    return torch.from_numpy(matrix)


@register_dataset
def synthetic_ratings(n_users: int = 600, n_items: int = 300, rank: int = 5, density: float = 0.2,
                      noise_std: float = 0.4, data_seed: int = 0) -> DatasetArrays:
    """A seeded low-rank rating matrix with missing entries (the module docstring)."""
    require_int("n_users", n_users, minimum=10)
    require_int("n_items", n_items, minimum=MIN_RATINGS_PER_USER)
    require_int("rank", rank, minimum=1)
    require_number("density", density, 0.0, 1.0, open_minimum=True)
    require_number("noise_std", noise_std, minimum=0.0)
    require_int("data_seed", data_seed, minimum=0)
    rng = np.random.default_rng(data_seed)
    preferences = rng.normal(size=(n_users, rank)) @ rng.normal(size=(rank, n_items)) / np.sqrt(rank)
    stars = np.clip(np.rint(3 + 1.2 * preferences + rng.normal(0, noise_std, preferences.shape)), 1, STARS)
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.7
    popularity = popularity[rng.permutation(n_items)]
    chance = np.clip(density * n_items * popularity / popularity.sum(), 0, 1)
    rated = rng.random((n_users, n_items)) < chance[None, :]
    for user in np.flatnonzero(rated.sum(1) < MIN_RATINGS_PER_USER):  # every user rates a few items
        rated[user, rng.choice(n_items, MIN_RATINGS_PER_USER, replace=False)] = True
    users, items = np.nonzero(rated)
    x = rating_matrix(users, items, stars[users, items], (n_users, n_items))
    return DatasetArrays("synthetic_ratings", x, None, unit_range=True, ratings=True)


def _fetch_movielens(folder: Path, mirrors: list[str]) -> Path:
    """``ml-100k.zip`` from the first mirror that answers, checked against its published ``.md5``;
    its ``u.data`` is written to ``folder``."""
    failures = []
    for mirror in mirrors:
        url = f"{mirror.rstrip('/')}/ml-100k.zip.md5"
        try:
            with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
                expected = response.read().decode().split()[-1].strip().lower()
        except (urllib.error.URLError, OSError, ValueError) as error:
            failures.append(f"{url}: {getattr(error, 'reason', error)}")
            continue
        archive = download("ml-100k.zip", [mirror], expected, folder / "ml-100k.zip")
        with zipfile.ZipFile(archive) as bundle:
            (folder / "u.data").write_bytes(bundle.read("ml-100k/u.data"))
        return folder / "u.data"
    raise DataError(f"could not download MovieLens 100K ({'; '.join(failures)}); put its u.data in {folder}/ yourself")


@register_dataset
def movielens(root: str = "data", download: bool = False, mirrors: list[str] | None = None) -> DatasetArrays:
    """MovieLens 100K as a user x item rating matrix (the module docstring)."""
    folder = Path(root) / "movielens"
    path = find(folder, "u.data") or find(folder / "ml-100k", "u.data")
    if path is None and download:
        path = _fetch_movielens(folder, mirrors or MOVIELENS_MIRRORS)
    if path is None:
        raise DataError(f"dataset=movielens needs u.data (MovieLens 100K) in {folder}/: put it there, or set "
                        "dataset.download=true to fetch it")
    try:
        table = np.loadtxt(io.BytesIO(read_bytes(path)), dtype=np.int64, ndmin=2)
    except ValueError as error:
        raise DataError(f"{path} is corrupt: not MovieLens's tab-separated user, item, rating, timestamp ({error})") \
            from None
    if table.shape[1] < 3 or table[:, :2].min() < 1:
        raise DataError(f"{path} is corrupt: each line needs a user id, an item id (from 1) and a rating")
    users, items, stars = table[:, 0] - 1, table[:, 1] - 1, table[:, 2].astype(np.float32)
    try:
        x = rating_matrix(users, items, stars, (int(users.max()) + 1, int(items.max()) + 1))
    except ValueError as error:
        raise DataError(f"{path} is corrupt: {error}") from None
    return DatasetArrays("movielens", x, None, unit_range=True, ratings=True)
