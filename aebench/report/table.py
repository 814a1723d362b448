"""The leaderboard: per dataset and task, one row per model x regularizer (and any other setting the
sweep varied), mean and sample standard deviation over seeds, ranked, with the best of each column
marked (baselines' columns, the same data for every row, are not)."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable

import pandas as pd

from aebench.errors import ConfigError
from aebench.report.stats import ci95_halfwidth, tied_with_best
from aebench.tasks import TASKS


@dataclass(frozen=True)
class Column:
    metric: str                       # MLflow metric key
    label: str                        # header
    higher_is_better: bool
    text: Callable[[float], str]      # how one value is written
    marks_best: bool = True           # False for a baseline's column (the same data for every row)
    describes_row: bool = False       # what the row is (code size, epochs), not how well it does: no arrow, no best

    @property
    def arrow(self) -> str:
        return "" if self.describes_row else ("↑" if self.higher_is_better else "↓")

    @property
    def heading(self) -> str:
        return f"{self.label} {self.arrow}".strip()


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
    Column("model/code_dim", "code size", False, lambda value: f"{value:.0f}", marks_best=False, describes_row=True),
    Column("train/total_epochs", "epochs (pretraining included)", False, _fixed(1), marks_best=False,
           describes_row=True),
    # the tasks' own (aebench.tasks), each shown only in its task's tables
    Column("test/compress_psnr", "quantised PSNR (dB)", True, _fixed(2)),
    Column("test/bpp", "bits per pixel", False, _fixed(3)),
    Column("test/pca_compress_psnr", "PCA PSNR at bpp (dB)", True, _fixed(2), marks_best=False),
    Column("test/jpeg_psnr_at_bpp", "JPEG PSNR at bpp (dB)", True, _fixed(2), marks_best=False),
    Column("test/inpaint_psnr", "inpainted PSNR (dB)", True, _fixed(2)),
    Column("test/inpaint_mean_psnr", "mean-imputed PSNR (dB)", True, _fixed(2), marks_best=False),
    Column("test/inpaint_block_psnr", "block inpainted PSNR (dB)", True, _fixed(2)),
    Column("test/inpaint_block_mean_psnr", "block mean-imputed PSNR (dB)", True, _fixed(2), marks_best=False),
    Column("test/inpaint_mse", "inpainted MSE", False, _significant),
    Column("test/inpaint_mean_mse", "mean-imputed MSE", False, _significant, marks_best=False),
    Column("test/inpaint_block_mse", "block inpainted MSE", False, _significant),
    Column("test/inpaint_block_mean_mse", "block mean-imputed MSE", False, _significant, marks_best=False),
    Column("test/recommend_rmse", "held-out RMSE (stars)", False, _fixed(3)),
    Column("test/recommend_mean_rmse", "item-mean RMSE (stars)", False, _fixed(3), marks_best=False),
    Column("test/recommend_svd_rmse", "truncated-SVD RMSE (stars)", False, _fixed(3), marks_best=False),
    Column("test/bicubic_psnr", "bicubic PSNR (dB)", True, _fixed(2), marks_best=False),
    Column("test/bicubic_ssim", "bicubic SSIM", True, _fixed(3), marks_best=False),
    Column("test/superres_gain", "PSNR gain over bicubic (dB)", True, _fixed(2)),
    Column("test/grey_psnr", "grey input PSNR (dB)", True, _fixed(2), marks_best=False),
    Column("test/watermarked_psnr", "watermarked input PSNR (dB)", True, _fixed(2), marks_best=False),
    Column("test/anomaly_auroc", "anomaly AUROC", True, _fixed(3)),
    Column("test/trustworthiness", "trustworthiness", True, _fixed(3)),
    Column("test/pca_trustworthiness", "PCA trustworthiness", True, _fixed(3), marks_best=False),
)
BY_METRIC = {column.metric: column for column in COLUMNS}
STANDARD = {column.metric for column in COLUMNS[:12]}  # every run's; the rest are the tasks'
DENOISE_GAIN = "test/denoise_gain_"  # + the noise level: one column per level a run logged
CODE_SIZE = "model/code_dim"


def column_of(metric: str) -> Column | None:
    if metric in BY_METRIC:
        return BY_METRIC[metric]
    if metric.startswith(DENOISE_GAIN):
        return Column(metric, f"PSNR gain at noise {metric.removeprefix(DENOISE_GAIN)} (dB)", True, _fixed(2))
    return None


def _level(metric: str) -> float:
    try:
        return float(metric.removeprefix(DENOISE_GAIN))
    except ValueError:
        return math.inf


def columns_present(members: pd.DataFrame) -> list[Column]:
    """The known columns with at least one value among ``members``, the denoising gains by level."""
    logged = [name.removeprefix("metrics.") for name in members.columns
              if name.startswith("metrics.") and members[name].notna().any()]
    static = [column for column in COLUMNS if column.metric in logged]
    gains = sorted((name for name in logged if name.startswith(DENOISE_GAIN)), key=_level)
    return static + [column_of(name) for name in gains]
# params that say where or how a run went, or repeat the row's own keys: never a row key
NOT_ROW_KEYS = ("params.seed", "params.tracking.", "params.sweep.", "params.metrics.", "params.trainer.progress_bar",
                "params.task.name",
                "params.trainer.accelerator", "params.trainer.devices", "params.trainer.strategy",
                "params.model.name", "params.regularizer.name", "params.dataset.name")
MISSING = "-"


def check_rank_by(rank_by: str | None) -> Column | None:
    """The column named by ``report.rank_by``; None (each table ranked by its task's main metric) stays None."""
    if rank_by is None:
        return None
    column = column_of(rank_by)
    if column is None:
        raise ConfigError("report.rank_by", rank_by, "null (each task's main metric) or one of "
                          + ", ".join([*BY_METRIC, DENOISE_GAIN + "<level>"]))
    return column


def primary_column(task: str, present: list[Column], features: bool = False) -> Column:
    """The first of the task's main metrics present (``Task.primary_metrics``), else MSE; the
    linear probe's accuracy first for a table tuned for features."""
    try:
        wanted = TASKS.get(task).primary_metrics
    except ConfigError:  # a task this version does not know: rank by reconstruction
        wanted = ("test/psnr", "test/mse")
    wanted = ("test/probe_accuracy", *wanted) if features else wanted
    by_metric = {column.metric: column for column in present}
    return next((by_metric[m] for m in (*wanted, "test/psnr", "test/mse") if m in by_metric), present[0])


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
    columns: list[Column]    # the columns with at least one value, the ranked one first
    best: dict[str, int]     # metric -> position (row number) of its best mean
    rank_by: Column
    task: str = "reconstruct"
    selection: str | None = None   # a tuned sweep's: the configurations chosen for reconstruction or features

    @property
    def title(self) -> str:
        title = self.dataset if self.task == "reconstruct" else f"{self.dataset}, task {self.task}"
        return title if self.selection is None else f"{title}, tuned for {self.selection}"

    @property
    def slug(self) -> str:
        """The table's part of file names."""
        slug = self.dataset if self.task == "reconstruct" else f"{self.dataset}_{self.task}"
        return slug if self.selection is None else f"{slug}_{self.selection}"

    def key_label(self, key: str) -> str:
        if key == "hyperparameters":
            return "selected hyperparameters"
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


def leaderboards(runs: pd.DataFrame, rank_by: str | None = None) -> list[Leaderboard]:
    """One leaderboard per dataset and task, rows ranked by ``rank_by`` where the table has it, else by
    the task's main metric (PSNR for reconstruction), each in its own direction, missing values last."""
    asked = check_rank_by(rank_by)
    if "task" not in runs:
        runs = runs.assign(task="reconstruct")
    runs = by_selection(runs.fillna({"task": "reconstruct"}))
    boards = []
    tables = sorted(runs.groupby(["dataset", "task", "selection"], dropna=False),
                    key=lambda item: (item[0][0], item[0][1] != "reconstruct", item[0][1],
                                      item[0][2] != "reconstruction", str(item[0][2])))
    for (dataset, task, selection), members in tables:  # per dataset, reconstruction first
        members = members.copy()
        tuned = ["hyperparameters"] if "hyperparameters" in members and members["hyperparameters"].notna().any() else []
        drawn = {f"params.{key}" for keys in members.get("tuned_keys", pd.Series(dtype=object)).dropna()
                 for key in str(keys).split(",") if key}  # shown in "selected hyperparameters", not as columns
        keys = ["model", "regularizer", *tuned, *[k for k in varying_settings(members) if k not in drawn]]
        members[keys] = members[keys].fillna(MISSING)
        present = columns_present(members)
        if not present:
            continue
        order = asked if asked is not None and asked.metric in {c.metric for c in present} \
            else primary_column(task, present, features=selection == "features")
        others = [c for c in present if c.metric != order.metric]
        own, standard = [c for c in others if c.metric not in STANDARD], [c for c in others if c.metric in STANDARD]
        present = [order, *own, *standard]  # the task's own columns before every run's
        grouped = members.groupby(keys, dropna=False)
        rows = grouped.size().rename("n").reset_index()
        rows["run_ids"] = grouped["run_id"].agg(list).values
        if "reproduce" in members:
            rows["command"] = grouped[["reproduce", "seed"]].apply(row_command).values
        for column in present:
            values = grouped[f"metrics.{column.metric}"]
            rows[column.metric] = values.mean().values
            rows[f"{column.metric}.std"] = values.std(ddof=1).values  # NaN for a single run
            rows[f"{column.metric}.ci95"] = values.agg(ci95_halfwidth).values
        ranked_runs = grouped[f"metrics.{order.metric}"].agg(list).values
        rows = rows.assign(_ranked=ranked_runs).sort_values(order.metric, ascending=not order.higher_is_better,
                                                            na_position="last", kind="stable").reset_index(drop=True)
        rows["vs_best"] = versus_best(rows, order)
        rows = rows.drop(columns="_ranked")
        best = {}
        for column in present:
            means = rows[column.metric]
            if column.marks_best and means.notna().any():
                best[column.metric] = int(means.idxmax() if column.higher_is_better else means.idxmin())
        boards.append(Leaderboard(dataset, keys, rows, present, best, order, task,
                                  None if isinstance(selection, float) else selection))
    return boards


def row_command(runs: pd.DataFrame) -> str:
    """The command that re-runs a row: its first run's (``aebench.reproduce``) over all the row's seeds."""
    commands = runs["reproduce"].dropna()
    if commands.empty:
        return MISSING
    seeds = ",".join(sorted({str(seed) for seed in runs["seed"].dropna()}, key=lambda s: (len(s), s)))
    return re.sub(r"(?<=\s)seed=\S+", f"seed={seeds}", str(commands.iloc[0]))


def versus_best(rows: pd.DataFrame, order: Column) -> list[str]:
    """Each row against the best autoencoder row of its code size on the ranking metric
    (``aebench.report.stats``): a 128-unit code is not compared with a 16-unit one; ``baseline``
    for PCA's rows."""
    sizes = rows[CODE_SIZE] if CODE_SIZE in rows else pd.Series([0] * len(rows))
    found: dict[int, str] = {}
    for size in sizes.dropna().unique():
        compared = [i for i in range(len(rows)) if rows["model"].iloc[i] != "pca" and sizes.iloc[i] == size
                    and not math.isnan(rows[order.metric].iloc[i])]
        if compared:  # rows are ranked: the first of a size is its best
            found.update(zip(compared, tied_with_best([rows["_ranked"].iloc[i] for i in compared], 0)))
    return ["baseline" if rows["model"].iloc[i] == "pca" else found.get(i, "-") for i in range(len(rows))]


def by_selection(runs: pd.DataFrame) -> pd.DataFrame:
    """A tuned sweep's leaderboard rows: its final runs, once for each selection that chose them
    (column ``selection``), the baselines in every selection; its trials are left out. Other runs
    get no selection."""
    if "stage" in runs:
        runs = runs[runs["stage"] != "trial"]
    if "selected_for" not in runs or runs["selected_for"].isna().all():
        return runs.assign(selection=None)
    chosen = runs["selected_for"].dropna().str.split("+").explode()
    every = sorted(set(chosen), key=lambda name: (name != "reconstruction", name))
    split = runs["selected_for"].map(lambda value: every if not isinstance(value, str) else value.split("+"))
    runs = runs.assign(selection=split).explode("selection").reset_index(drop=True)
    if "penalty_off_of" in runs:  # the none row stands for the penalties chosen off (aebench.report.collect)
        runs["hyperparameters"] = [
            value if not isinstance(off, dict) or not off.get(selection) else
            f"{value}; also {', '.join(sorted(off[selection]))}, chosen with the penalty off"
            for value, off, selection in zip(runs["hyperparameters"], runs["penalty_off_of"], runs["selection"])]
        runs = runs.drop(columns="penalty_off_of")
    return runs
