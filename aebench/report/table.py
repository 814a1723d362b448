"""The leaderboard: per dataset, one row per model x regularizer (and any other setting the sweep
varied), mean and sample standard deviation over seeds, ranked, with the best of each column marked."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import pandas as pd

from aebench.errors import ConfigError


@dataclass(frozen=True)
class Column:
    metric: str                       # MLflow metric key
    label: str                        # header
    higher_is_better: bool
    text: Callable[[float], str]      # how one value is written


def _fixed(digits: int) -> Callable[[float], str]:
    return lambda value: f"{value:.{digits}f}"


def _significant(value: float) -> str:
    return f"{value:.3g}"


COLUMNS = (
    Column("test/psnr", "PSNR (dB)", True, _fixed(2)),
    Column("test/mse", "MSE", False, _significant),
    Column("test/ssim", "SSIM", True, _fixed(3)),
    Column("test/probe_accuracy", "probe acc.", True, _fixed(3)),
    Column("test/knn_accuracy", "kNN acc.", True, _fixed(3)),
    Column("test/code_hoyer", "Hoyer sparsity", True, _fixed(3)),
    Column("test/jacobian_frobenius", "Jacobian norm", False, _significant),
    Column("test/denoise_psnr", "denoise PSNR (dB)", True, _fixed(2)),
    Column("model/num_parameters", "parameters", False, lambda value: f"{value:,.0f}"),
    Column("train/fit_seconds", "train time (s)", False, _fixed(1)),
)
BY_METRIC = {column.metric: column for column in COLUMNS}
# params that say where or how a run went, or repeat the row's own keys: never a row key
NOT_ROW_KEYS = ("params.seed", "params.tracking.", "params.sweep.", "params.metrics.", "params.trainer.progress_bar",
                "params.trainer.accelerator", "params.trainer.devices", "params.trainer.strategy",
                "params.model.name", "params.regularizer.", "params.dataset.name")
MISSING = "-"


def check_rank_by(rank_by: str) -> Column:
    if rank_by not in BY_METRIC:
        raise ConfigError("report.rank_by", rank_by, "one of " + ", ".join(BY_METRIC))
    return BY_METRIC[rank_by]


def varying_settings(runs: pd.DataFrame) -> list[str]:
    """Params that take several values inside one model x regularizer group (code_dim, lr, ...)."""
    candidates = [c for c in runs.columns if c.startswith("params.") and not c.startswith(NOT_ROW_KEYS)]
    grouped = runs.fillna({c: MISSING for c in candidates}).groupby(["model", "regularizer"])
    return [c for c in candidates if (grouped[c].nunique() > 1).any()]


@dataclass
class Leaderboard:
    dataset: str
    keys: list[str]          # model, regularizer, then the varying settings (params.*)
    rows: pd.DataFrame       # keys, n, run_ids, <metric> mean, <metric>.std for each column present
    columns: list[Column]    # the columns with at least one value
    best: dict[str, int]     # metric -> position (row number) of its best mean
    rank_by: Column

    def key_label(self, key: str) -> str:
        return key.removeprefix("params.").removeprefix("model.")

    def row_label(self, position: int) -> str:
        row = self.rows.iloc[position]
        settings = [f"{self.key_label(k)}={row[k]}" for k in self.keys[2:]]
        return f"{row['model']} / {row['regularizer']}" + (f" ({', '.join(settings)})" if settings else "")

    def cell(self, position: int, column: Column) -> str:
        mean, spread = self.rows.iloc[position][column.metric], self.rows.iloc[position][f"{column.metric}.std"]
        if mean is None or (isinstance(mean, float) and math.isnan(mean)):
            return MISSING
        if spread is None or math.isnan(spread) or spread == 0:
            return column.text(mean)
        return f"{column.text(mean)} ± {column.text(spread)}"


def leaderboards(runs: pd.DataFrame, rank_by: str = "test/psnr") -> list[Leaderboard]:
    """One leaderboard per dataset, rows ranked by ``rank_by`` (its own direction; missing values last)."""
    ranked_column = check_rank_by(rank_by)
    boards = []
    for dataset, members in sorted(runs.groupby("dataset"), key=lambda item: item[0]):
        members = members.copy()
        keys = ["model", "regularizer", *varying_settings(members)]
        members[keys] = members[keys].fillna(MISSING)
        present = [c for c in COLUMNS
                   if f"metrics.{c.metric}" in members and members[f"metrics.{c.metric}"].notna().any()]
        grouped = members.groupby(keys, dropna=False)
        rows = grouped.size().rename("n").reset_index()
        rows["run_ids"] = grouped["run_id"].agg(list).values
        for column in present:
            values = grouped[f"metrics.{column.metric}"]
            rows[column.metric] = values.mean().values
            rows[f"{column.metric}.std"] = values.std(ddof=1).values  # NaN for a single run
        order = ranked_column if ranked_column in present else next(c for c in present if c.metric == "test/mse")
        rows = rows.sort_values(order.metric, ascending=not order.higher_is_better, na_position="last",
                                kind="stable").reset_index(drop=True)
        best = {}
        for column in present:
            means = rows[column.metric]
            if means.notna().any():
                best[column.metric] = int(means.idxmax() if column.higher_is_better else means.idxmin())
        boards.append(Leaderboard(dataset, keys, rows, present, best, order))
    return boards
