"""Recommendation: predict the ratings a user has not given from those they have (AutoRec, Sedhain,
Menon, Sanner & Xie 2015, user-based), on a rating matrix (``synthetic_ratings``, ``movielens``).

Each sample is one user's ratings (rating / 5, 0 where missing). Training reconstructs the rated
entries only: the loss counts them and nothing else (AutoRec's observed-entries objective). Test
and validation users are new to the model ("strong generalisation", Marlin 2004; Liang, Krishnan,
Hoffman & Jebara 2018): a fixed ``holdout`` of each one's ratings is hidden from the encoder and
predicted from the rest. ``val/loss`` is the error on the hidden validation ratings, so selection
never sees a test rating. ``test/recommend_rmse`` is the RMSE in stars on the hidden test ratings,
predictions clipped to 1..5 stars, beside two baselines fitted on the training users:
``test/recommend_mean_rmse`` (each item's mean rating, the global mean for an unrated item) and
``test/recommend_svd_rmse`` (matrix factorisation: the item-mean-filled, centred training matrix's
truncated SVD with as many factors as the model's code has units; a test user's filled ratings
projected onto its item factors).
"""
from __future__ import annotations

import torch

from aebench.data.ratings import STARS
from aebench.errors import require_number
from aebench.ops.chunks import apply_in_chunks, device_of
from aebench.tasks.base import TEST_SEED, Task


def rated(x: torch.Tensor) -> torch.Tensor:
    return x > 0


def item_means(train_x: torch.Tensor) -> torch.Tensor:
    """Each item's mean rating over the users who rated it (the global mean where none did), in x's units."""
    mask = rated(train_x).float()
    overall = (train_x * mask).sum() / mask.sum().clamp_min(1)
    counts = mask.sum(0)
    return torch.where(counts > 0, (train_x * mask).sum(0) / counts.clamp_min(1), overall)


def rmse_stars(predicted: torch.Tensor, x: torch.Tensor, mask: torch.Tensor) -> float:
    """The RMSE in stars over the entries of ``mask``, predictions clipped to 1..5 stars."""
    error = (predicted.clamp(1 / STARS, 1.0) - x) * STARS
    return (error.pow(2)[mask].mean().sqrt()).item() if mask.any() else float("nan")


class Recommend(Task):
    name = "recommend"
    data_needs = ("ratings",)
    primary_metrics = ("test/recommend_rmse",)
    headline = ("test/recommend_",)

    def __init__(self, holdout: float = 0.2):
        self.holdout = require_number("holdout", holdout, 0.0, 1.0, open_minimum=True, open_maximum=True)

    def hidden(self, x: torch.Tensor, batch_index: int) -> torch.Tensor:
        """The rated entries of test (or validation) batch ``batch_index`` hidden from the encoder: ``holdout``
        of them at random, drawn on the CPU so that every device hides the same ones."""
        draws = torch.rand(x.shape, generator=torch.Generator().manual_seed(TEST_SEED + batch_index))
        return rated(x) & (draws.to(x.device) < self.holdout)

    def test_input(self, x, batch_index):
        return x.masked_fill(self.hidden(x, batch_index), 0.0)

    def training_mask(self, x):
        return rated(x)

    def scoring_mask(self, inputs, x):
        return rated(x) & ~rated(inputs)

    def evaluate(self, model, datamodule):
        train_x = datamodule.inputs("train")
        means = item_means(train_x)
        centred = torch.where(rated(train_x), train_x, means) - means
        factors = min(model.code_dim, *centred.shape)
        item_factors = torch.linalg.svd(centred.double(), full_matrices=False).Vh[:factors].float()  # (k, items)
        inputs, targets = [], []
        for index, batch in datamodule.numbered_test_batches():  # the ratings the test step's batches hide
            inputs.append(self.test_input(batch, index))
            targets.append(batch)
        inputs, targets = torch.cat(inputs), torch.cat(targets)
        scored = self.scoring_mask(inputs, targets)
        predicted = apply_in_chunks(model, inputs, device=device_of(model))
        filled = torch.where(rated(inputs), inputs, means) - means
        svd = filled @ item_factors.t() @ item_factors + means
        return {"test/recommend_rmse": rmse_stars(predicted, targets, scored),
                "test/recommend_mean_rmse": rmse_stars(means.expand_as(targets), targets, scored),
                "test/recommend_svd_rmse": rmse_stars(svd, targets, scored),
                "test/recommend_hidden_ratings": float(scored.sum())}, {}
