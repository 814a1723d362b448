"""The report's figures (matplotlib), each returned as PNG bytes: the rank metric with error
bars, PSNR against code size beside PCA's curve, reconstructions of the best runs, and the test
codes of the best run on their first two principal components, coloured by label."""
from __future__ import annotations

import io
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from aebench.report.table import Leaderboard  # noqa: E402
from aebench.tracking import TrackingStore  # noqa: E402

BASELINE_COLOUR, MODEL_COLOUR = "#444444", "#3b6ea8"
TOP = 3  # rows whose reconstructions are shown


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def ranking_bars(board: Leaderboard) -> bytes:
    column = board.rank_by
    rows = board.rows
    labels = [board.row_label(i) for i in range(len(rows))]
    spreads = rows[f"{column.metric}.std"].fillna(0).values
    colours = [BASELINE_COLOUR if model == "pca" else MODEL_COLOUR for model in rows["model"]]
    figure, axes = plt.subplots(figsize=(7, 0.28 * len(rows) + 1.2))
    axes.barh(range(len(rows)), rows[column.metric].values, xerr=spreads, color=colours, capsize=2)
    axes.set_yticks(range(len(rows)), labels, fontsize=7)
    axes.invert_yaxis()
    axes.set_xlabel(f"{column.label}, mean ± std over seeds")
    axes.set_title(f"{board.dataset}: {column.label} (PCA in grey)", fontsize=10)
    low = np.nanmin(rows[column.metric].values - spreads)
    axes.set_xlim(left=max(0.0, low - 0.05 * abs(low)) if column.metric != "test/mse" else 0.0)
    return _png(figure)


def psnr_by_code_size(board: Leaderboard, runs: pd.DataFrame) -> bytes | None:
    """PSNR (mean over seeds) against the code size, a line per model x regularizer, PCA dashed."""
    members = runs[runs["dataset"] == board.dataset]
    if "metrics.test/psnr" not in members or "metrics.model/code_dim" not in members:
        return None
    members = members.dropna(subset=["metrics.test/psnr", "metrics.model/code_dim"]).copy()
    members["code_dim"] = members["metrics.model/code_dim"].astype(int)
    figure, axes = plt.subplots(figsize=(7, 4.2))
    for (model, regularizer), group in members.groupby(["model", "regularizer"]):
        curve = group.groupby("code_dim")["metrics.test/psnr"].mean().sort_index()
        baseline = model == "pca"
        style = {"linestyle": "--", "linewidth": 2.2, "color": BASELINE_COLOUR} if baseline else {"alpha": 0.75}
        axes.plot(curve.index, curve.values, marker="o", markersize=4, label=f"{model} / {regularizer}", **style)
    axes.set_xscale("log", base=2)
    axes.set_xlabel("code size (model.code_dim)")
    axes.set_ylabel("test PSNR (dB)")
    axes.set_title(f"{board.dataset}: PSNR against code size, PCA dashed", fontsize=10)
    axes.legend(fontsize=6, ncol=2, frameon=False)
    return _png(figure)


def best_run(board: Leaderboard, runs: pd.DataFrame, position: int) -> pd.Series:
    """The seed of row ``position`` with the best rank metric."""
    members = runs[runs["run_id"].isin(board.rows.iloc[position]["run_ids"])]
    metric = f"metrics.{board.rank_by.metric}"
    ordered = members.sort_values(metric, ascending=not board.rank_by.higher_is_better, na_position="last")
    return ordered.iloc[0]


def _artifact(store: TrackingStore, run_id: str, name: str, folder: str) -> Path | None:
    try:
        return Path(store.client.download_artifacts(run_id, name, folder))
    except Exception:  # noqa: BLE001 (an artifact a run did not log is left out of the figure)
        return None


def reconstructions(board: Leaderboard, runs: pd.DataFrame, store: TrackingStore) -> bytes | None:
    """The reconstruction grids (originals above reconstructions) of the best runs of the top rows."""
    shown = []
    with tempfile.TemporaryDirectory() as folder:
        for position in range(len(board.rows)):
            run = best_run(board, runs, position)
            path = _artifact(store, run["run_id"], "reconstructions.png", folder)
            if path is not None:
                shown.append((board.row_label(position), run, plt.imread(path)))
            if len(shown) == TOP:
                break
    if not shown:
        return None
    figure, axes = plt.subplots(len(shown), 1, figsize=(8, 1.6 * len(shown)))
    for axis, (label, run, image) in zip(np.atleast_1d(axes), shown):
        axis.imshow(image, cmap="gray", interpolation="nearest")
        axis.set_title(f"{label}, seed {run['seed']}: {board.rank_by.label} "
                       f"{run.get(f'metrics.{board.rank_by.metric}', float('nan')):.2f}", fontsize=8)
        axis.axis("off")
    return _png(figure)


def code_maps(board: Leaderboard, runs: pd.DataFrame, store: TrackingStore) -> bytes | None:
    """The test codes of the best autoencoder run, and of PCA where present, on two principal components."""
    picks = []
    autoencoders = [i for i in range(len(board.rows)) if board.rows.iloc[i]["model"] != "pca"]
    baselines = [i for i in range(len(board.rows)) if board.rows.iloc[i]["model"] == "pca"]
    for position in autoencoders[:1] + baselines[:1]:
        picks.append((board.row_label(position), best_run(board, runs, position)))
    panels = []
    with tempfile.TemporaryDirectory() as folder:
        for label, run in picks:
            path = _artifact(store, run["run_id"], "codes_2d.npz", folder)
            if path is not None:
                saved = np.load(path)
                panels.append((label, saved["points"], saved["labels"]))
    if not panels:
        return None
    figure, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4))
    for axis, (label, points, labels) in zip(np.atleast_1d(axes), panels):
        if labels.size:
            scatter = axis.scatter(points[:, 0], points[:, 1], c=labels, cmap="tab10", s=6)
            axis.legend(*scatter.legend_elements(), fontsize=6, title="label", title_fontsize=7, loc="best")
        else:
            axis.scatter(points[:, 0], points[:, 1], color=MODEL_COLOUR, s=6)
        axis.set_title(f"{label}: test codes, first two PCs", fontsize=8)
        axis.set_xticks([]), axis.set_yticks([])
    return _png(figure)


def figures(board: Leaderboard, runs: pd.DataFrame, store: TrackingStore) -> dict[str, bytes]:
    """File name -> PNG bytes of every figure this dataset's data allow."""
    made = {f"ranking_{board.dataset}.png": ranking_bars(board),
            f"psnr_by_code_size_{board.dataset}.png": psnr_by_code_size(board, runs),
            f"reconstructions_{board.dataset}.png": reconstructions(board, runs, store),
            f"codes_{board.dataset}.png": code_maps(board, runs, store)}
    return {name: png for name, png in made.items() if png is not None}
