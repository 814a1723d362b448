"""The report's figures (matplotlib), each returned as PNG bytes: the rank metric with error
bars, PSNR against code size beside PCA's curve, reconstructions, latent traversals and
interpolations of the best runs (``aebench.evaluate.variation``), the test
codes of the best run on their first two principal components, coloured by label, and for
compression the rate-distortion curves of the autoencoders, PCA and JPEG."""
from __future__ import annotations

import io
import json
import tempfile
from typing import NamedTuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from aebench.report.table import Leaderboard  # noqa: E402
from aebench.tracking import TrackingStore  # noqa: E402

BASELINE_COLOUR, MODEL_COLOUR = "#444444", "#3b6ea8"
TOP = 3  # rows whose image grids are shown
DPI = 110  # of the PNGs
GRIDS = ("reconstructions", "traversals", "interpolations")  # each image run's grids (aebench.run.train)


class Drawn(NamedTuple):
    """One figure: PNG for the HTML page and the MLflow UI, PDF (vector) for papers."""
    png: bytes
    pdf: bytes


def _drawn(figure) -> Drawn:
    """Both formats, cropped to the same tight box. The box is measured once, by one layout pass,
    and passed to both saves: ``bbox_inches="tight"`` would lay the figure out again in each save
    (BENCHMARKS.md, the report's rendering)."""
    figure.set_dpi(DPI)  # measured at the resolution it is saved at: text is wider at 110 dpi than at 100
    box = figure.get_tightbbox(figure.canvas.get_renderer()).padded(plt.rcParams["savefig.pad_inches"])
    drawn = {}
    for kind in ("png", "pdf"):
        buffer = io.BytesIO()
        figure.savefig(buffer, format=kind, dpi=DPI, bbox_inches=box, metadata={"CreationDate": None}
                       if kind == "pdf" else None)
        drawn[kind] = buffer.getvalue()
    plt.close(figure)
    return Drawn(**drawn)


def ranking_bars(board: Leaderboard) -> Drawn:
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
    axes.set_title(f"{board.title}: {column.label} (PCA in grey)", fontsize=10)
    low = np.nanmin(rows[column.metric].values - spreads)
    axes.set_xlim(left=max(0.0, low - 0.05 * abs(low)) if column.higher_is_better else 0.0)
    return _drawn(figure)


def board_runs(board: Leaderboard, runs: pd.DataFrame) -> pd.DataFrame:
    """The runs of the board's dataset and task."""
    tasks = runs["task"].fillna("reconstruct") if "task" in runs else pd.Series("reconstruct", index=runs.index)
    return runs[(runs["dataset"] == board.dataset) & (tasks == board.task)]


def psnr_by_code_size(board: Leaderboard, runs: pd.DataFrame) -> Drawn | None:
    """PSNR (mean over seeds) against the code size, a line per model x regularizer, PCA dashed."""
    members = board_runs(board, runs)
    if "metrics.test/psnr" not in members or "metrics.model/code_dim" not in members:
        return None
    members = members.dropna(subset=["metrics.test/psnr", "metrics.model/code_dim"]).copy()
    if members.empty:  # data without PSNR (tables)
        return None
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
    axes.set_title(f"{board.title}: PSNR against code size, PCA dashed", fontsize=10)
    axes.legend(fontsize=6, ncol=2, frameon=False)
    return _drawn(figure)


def best_run(board: Leaderboard, runs: pd.DataFrame, position: int) -> pd.Series:
    """The seed of row ``position`` with the best rank metric."""
    members = runs[runs["run_id"].isin(board.rows.iloc[position]["run_ids"])]
    metric = f"metrics.{board.rank_by.metric}"
    ordered = members.sort_values(metric, ascending=not board.rank_by.higher_is_better, na_position="last")
    return ordered.iloc[0]


def top_row_grids(board: Leaderboard, runs: pd.DataFrame, store: TrackingStore, artifact: str) -> Drawn | None:
    """The image grid ``artifact`` (``reconstructions.png``, ``traversals.png``, ``interpolations.png``)
    of the best run of each of the top rows, one above the other."""
    shown = []
    with tempfile.TemporaryDirectory() as folder:
        for position in range(len(board.rows)):
            run = best_run(board, runs, position)
            path = store.download_artifact(run["run_id"], artifact, folder)
            if path is not None:
                shown.append((board.row_label(position), run, plt.imread(path)))
            if len(shown) == TOP:
                break
    if not shown:
        return None
    heights = [image.shape[0] / image.shape[1] * 8 for _, _, image in shown]
    figure, axes = plt.subplots(len(shown), 1, figsize=(8, sum(heights) + 0.4 * len(shown)),
                                gridspec_kw={"height_ratios": heights})
    for axis, (label, run, image) in zip(np.atleast_1d(axes), shown):
        axis.imshow(image, cmap="gray", interpolation="nearest")
        axis.set_title(f"{label}, seed {run['seed']}: {board.rank_by.label} "
                       f"{run.get(f'metrics.{board.rank_by.metric}', float('nan')):.2f}", fontsize=8)
        axis.axis("off")
    return _drawn(figure)


def code_maps(board: Leaderboard, runs: pd.DataFrame, store: TrackingStore) -> Drawn | None:
    """The test codes of the best autoencoder run, and of PCA where present, on two principal components."""
    picks = []
    autoencoders = [i for i in range(len(board.rows)) if board.rows.iloc[i]["model"] != "pca"]
    baselines = [i for i in range(len(board.rows)) if board.rows.iloc[i]["model"] == "pca"]
    for position in autoencoders[:1] + baselines[:1]:
        picks.append((board.row_label(position), best_run(board, runs, position)))
    panels = []
    with tempfile.TemporaryDirectory() as folder:
        for label, run in picks:
            path = store.download_artifact(run["run_id"], "codes_2d.npz", folder)
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
    return _drawn(figure)


RATE, QUANTISED, PCA_QUANTISED = "metrics.test/bpp", "metrics.test/compress_psnr", "metrics.test/pca_compress_psnr"


def rate_distortion(board: Leaderboard, runs: pd.DataFrame, store: TrackingStore) -> Drawn | None:
    """Compression: PSNR against bits per pixel, a line per model x regularizer over its rates (code
    sizes, bits), PCA with the same quantisation dashed, and JPEG's curve (``jpeg_curve.json``) dotted."""
    members = board_runs(board, runs)
    if RATE not in members or QUANTISED not in members:
        return None
    members = members.dropna(subset=[RATE, QUANTISED])
    if members.empty:
        return None
    figure, axes = plt.subplots(figsize=(7, 4.2))
    for (model, regularizer), group in members.groupby(["model", "regularizer"]):
        curve = group.groupby(RATE)[QUANTISED].mean().sort_index()
        axes.plot(curve.index, curve.values, marker="o", markersize=4, alpha=0.8, label=f"{model} / {regularizer}")
    if PCA_QUANTISED in members and members[PCA_QUANTISED].notna().any():
        pca = members.dropna(subset=[PCA_QUANTISED]).groupby(RATE)[PCA_QUANTISED].mean().sort_index()
        axes.plot(pca.index, pca.values, linestyle="--", linewidth=2.2, marker="s", markersize=4,
                  color=BASELINE_COLOUR, label="PCA (same quantisation)")
    with tempfile.TemporaryDirectory() as folder:
        path = store.download_artifact(members.iloc[0]["run_id"], "jpeg_curve.json", folder)
        points = json.loads(path.read_text()) if path is not None else []
    if points:  # the same test images for every run of the dataset: one curve
        low, high = members[RATE].min(), members[RATE].max()
        shown = sorted((p for p in points if p["bpp"] <= 2 * high and p["bpp"] >= low / 2), key=lambda p: p["bpp"])
        shown = shown or sorted(points, key=lambda p: p["bpp"])
        axes.plot([p["bpp"] for p in shown], [p["psnr"] for p in shown], linestyle=":", linewidth=2, color="black",
                  label="JPEG (Pillow, quality 1-100)")
    axes.set_xlabel("bits per pixel")
    axes.set_ylabel("test PSNR (dB)")
    axes.set_title(f"{board.title}: rate-distortion", fontsize=10)
    axes.legend(fontsize=6, ncol=2, frameon=False)
    return _drawn(figure)


def figures(board: Leaderboard, runs: pd.DataFrame, store: TrackingStore) -> dict[str, Drawn]:
    """File name (``.png``; the PDF's is the same with ``.pdf``) -> every figure this table's data allow."""
    made = {f"ranking_{board.slug}.png": ranking_bars(board),
            **{f"{grid}_{board.slug}.png": top_row_grids(board, runs, store, f"{grid}.png") for grid in GRIDS},
            f"codes_{board.slug}.png": code_maps(board, runs, store)}
    if board.task == "reconstruct":
        made[f"psnr_by_code_size_{board.slug}.png"] = psnr_by_code_size(board, runs)
    if board.task == "compress":
        made[f"rate_distortion_{board.slug}.png"] = rate_distortion(board, runs, store)
    return {name: png for name, png in made.items() if png is not None}


def critical_difference_diagram(summary) -> Drawn | None:
    """Average ranks on one axis (best on the left), each method labelled, the Nemenyi critical
    difference drawn as a bar (Demšar 2006, figure 1); none where the test was skipped."""
    if summary.critical_difference is None:
        return None
    ranks = summary.ranks["average rank"]
    count = len(ranks)
    figure, axes = plt.subplots(figsize=(7.5, 0.9 + 0.22 * count))
    axes.set_xlim(0.5, max(count, 2) + 0.5)
    axes.set_ylim(-count - 1, 2)
    axes.axhline(0, color="black", linewidth=0.8)
    for position, (method, rank) in enumerate(ranks.items()):
        y = -(position + 1)
        axes.plot([rank, rank], [0, y], color=MODEL_COLOUR, linewidth=0.7)
        axes.plot([rank], [0], "o", color=MODEL_COLOUR, markersize=3)
        axes.text(rank + 0.05, y, f"{method} ({rank:.2f})", fontsize=7, va="center")
    cd = summary.critical_difference
    axes.plot([1, 1 + cd], [1.2, 1.2], color=BASELINE_COLOUR, linewidth=2)
    axes.text(1 + cd / 2, 1.45, f"CD = {cd:.2f}", fontsize=7, ha="center")
    axes.set_yticks([])
    axes.set_xlabel(f"average rank on {summary.metric.label} over {len(summary.datasets)} datasets (1 = best)",
                    fontsize=8)
    for side in ("left", "right", "top"):
        axes.spines[side].set_visible(False)
    return _drawn(figure)
