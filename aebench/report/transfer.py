"""The "data-specific" matrices: for each method whose runs scored other datasets' test splits
(``metrics.transfer``, ``aebench.evaluate.transfer``), the mean over seeds of the test PSNR of
models trained on the row's dataset and tested on the column's; the diagonal is each run's own
``test/psnr``. PCA of the same code size stands beside each autoencoder as its baseline.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from aebench.report.table import by_selection, varying_settings

TRANSFER = re.compile(r"^metrics\.transfer/(?P<dataset>.+)/psnr$")


@dataclass
class TransferMatrix:
    method: str              # "conv / none, code 16"
    means: pd.DataFrame      # index: trained on; columns: tested on; mean PSNR (dB) over seeds
    counts: pd.DataFrame     # the seeds behind each mean

    def own_data_advantage(self) -> float:
        """The mean, over test sets, of the PSNR of the model trained on that dataset minus the mean PSNR of
        the models trained on the others: compared within a column, as a test set fixes how hard it is
        (a mostly dark dataset gives every model a high PSNR)."""
        gains = []
        for tested in self.means.columns:
            others = [t for t in self.means.index if t != tested and pd.notna(self.means.loc[t, tested])]
            if tested in self.means.index and pd.notna(self.means.loc[tested, tested]) and others:
                gains.append(self.means.loc[tested, tested] - self.means.loc[others, tested].mean())
        return float(sum(gains) / len(gains)) if gains else float("nan")


def _method(run: pd.Series, settings: list[str]) -> str:
    """A method as the leaderboard's rows separate it: model, regularizer, code size, the settings the
    sweep varied, and for a tuned sweep the selection (its hyperparameters are chosen per dataset)."""
    code = run.get("metrics.model/code_dim")
    label = f"{run['model']} / {run['regularizer']}" + (f", code {int(code)}" if pd.notna(code) else "")
    shown = [f"{column.removeprefix('params.')}={run[column]}" for column in settings if pd.notna(run.get(column))]
    label += f" ({', '.join(shown)})" if shown else ""
    selection = run.get("selection")
    return label + (f", tuned for {selection}" if isinstance(selection, str) else "")


def _tuned(runs: pd.DataFrame) -> set[str]:
    if "tuned_keys" not in runs:
        return set()
    return {f"params.{key}" for keys in runs["tuned_keys"].dropna() for key in str(keys).split(",") if key}


def transfer_matrices(runs: pd.DataFrame) -> list[TransferMatrix]:
    """One matrix per method with transfer scores (reconstruction runs; a tuned sweep's trials left out),
    autoencoders first, PCA last."""
    columns = [c for c in runs.columns if TRANSFER.match(c)] if not runs.empty else []
    if not columns:
        return []
    runs = by_selection(runs)
    tasks = runs["task"].fillna("reconstruct") if "task" in runs else pd.Series("reconstruct", index=runs.index)
    scored = runs[(tasks == "reconstruct") & runs[columns].notna().any(axis=1)]
    tuned = _tuned(scored)
    settings = [c for c in varying_settings(scored) if not c.startswith("params.dataset.") and c not in tuned]
    cells = []
    for _, run in scored.iterrows():
        method = _method(run, settings)
        cells.append((method, run["dataset"], run["dataset"], run.get("metrics.test/psnr")))
        for column in columns:
            if pd.notna(run[column]):
                cells.append((method, run["dataset"], TRANSFER.match(column)["dataset"], run[column]))
    frame = pd.DataFrame(cells, columns=["method", "trained", "tested", "psnr"]).dropna(subset=["psnr"])
    matrices = []
    methods = sorted(frame["method"].unique(), key=lambda m: (m.startswith("pca /"), m))
    for method in methods:
        cells = frame[frame["method"] == method]
        order = sorted(set(cells["trained"]) | set(cells["tested"]))
        grouped = cells.groupby(["trained", "tested"])["psnr"]
        means = grouped.mean().unstack().reindex(index=[d for d in order if d in set(cells["trained"])], columns=order)
        counts = grouped.count().unstack().reindex_like(means)
        matrices.append(TransferMatrix(method, means, counts))
    return matrices


INTRO = ("Data-specific: test PSNR (dB) of models trained on the row's dataset (mean over seeds) on the test "
         "split of the column's; the diagonal is each model's own test set. Compare within a column (one test "
         "set): own-data advantage is the diagonal minus the mean of the other rows, averaged over the columns. "
         "PCA of the same code size is the baseline.")


def cell(matrix: TransferMatrix, trained: str, tested: str) -> str:
    value = matrix.means.loc[trained, tested]
    return "-" if pd.isna(value) else f"{value:.2f}"


def markdown_matrices(matrices: list[TransferMatrix]) -> list[str]:
    parts = ["", "## Data-specific: trained on (rows) x tested on (columns)", "", INTRO]
    for matrix in matrices:
        tested = list(matrix.means.columns)
        parts += ["", f"**{matrix.method}** (own-data advantage {matrix.own_data_advantage():.2f} dB)", "",
                  "| trained on | " + " | ".join(tested) + " |", "|---|" + "---:|" * len(tested)]
        parts += [f"| {trained} | " + " | ".join(cell(matrix, trained, t) for t in tested) + " |"
                  for trained in matrix.means.index]
    return parts


def csv_matrices(matrices: list[TransferMatrix]) -> str:
    rows = [{"method": m.method, "trained_on": trained, "tested_on": tested, "psnr_mean": m.means.loc[trained, tested],
             "n": m.counts.loc[trained, tested]}
            for m in matrices for trained in m.means.index for tested in m.means.columns
            if pd.notna(m.means.loc[trained, tested])]
    return pd.DataFrame(rows).to_csv(index=False)
