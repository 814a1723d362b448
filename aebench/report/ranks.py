"""Across datasets: each method's average rank over the datasets of a sweep, the Friedman test of
whether the methods differ at all, and the Nemenyi critical difference of average ranks (Demšar
2006, sections 3.2.2 and 3.2.3), with scipy's implementations of the distributions.

A method is a model x regularizer (and any swept setting other than tuned hyperparameters, which
differ by dataset); only methods present on every dataset are ranked; rank 1 is the best mean on
the table's ranking metric, ties share the average rank. The test is skipped, saying why, with
fewer than 3 datasets or 3 methods.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from aebench.report.table import Column, Leaderboard

ALPHA = 0.05
MIN_DATASETS, MIN_METHODS = 3, 3


@dataclass
class RankSummary:
    task: str
    selection: str | None
    metric: Column
    datasets: list[str]
    ranks: pd.DataFrame          # index: method; columns: each dataset's rank, then "average rank"
    friedman_p: float | None
    critical_difference: float | None
    note: str                    # the test's outcome, or why it was skipped

    @property
    def title(self) -> str:
        what = "" if self.task == "reconstruct" else f", task {self.task}"
        return f"Across datasets{what}" + ("" if self.selection is None else f", tuned for {self.selection}")


def method_label(board: Leaderboard, position: int) -> str:
    row = board.rows.iloc[position]
    settings = [f"{board.key_label(k)}={row[k]}" for k in board.keys[2:] if k != "hyperparameters"]
    return f"{row['model']} / {row['regularizer']}" + (f" ({', '.join(settings)})" if settings else "")


def friedman(ranks: np.ndarray) -> float:
    """The p-value of Friedman's test on a datasets x methods matrix of ranks (scipy's, which
    corrects for ties; without ties it is Demšar 2006, eq. 1)."""
    return float(stats.friedmanchisquare(*ranks.T).pvalue)


def critical_difference(methods: int, datasets: int, alpha: float = ALPHA) -> float:
    """Nemenyi: q_alpha sqrt(k (k + 1) / (6 N)), q_alpha the studentized range quantile over sqrt 2."""
    q = stats.studentized_range.ppf(1 - alpha, methods, np.inf) / math.sqrt(2)
    return float(q * math.sqrt(methods * (methods + 1) / (6 * datasets)))


def rank_summaries(boards: list[Leaderboard]) -> list[RankSummary]:
    """One summary per task and selection that spans two or more datasets."""
    groups: dict[tuple, list[Leaderboard]] = {}
    for board in boards:
        groups.setdefault((board.task, board.selection, board.rank_by.metric), []).append(board)
    summaries = []
    for (task, selection, _), members in groups.items():
        if len(members) < 2:
            continue
        metric = members[0].rank_by
        scores = {}
        for board in members:
            scores[board.dataset] = {method_label(board, i): board.rows[metric.metric].iloc[i]
                                     for i in range(len(board.rows)) if board.rows["model"].iloc[i] != "pca"}
        table = pd.DataFrame(scores).dropna()  # methods on every dataset
        if table.empty:
            continue
        ranks = table.rank(ascending=not metric.higher_is_better, method="average")
        ranks["average rank"] = ranks.mean(axis=1)
        ranks = ranks.sort_values("average rank", kind="stable")
        datasets, methods = len(members), len(ranks)
        if datasets < MIN_DATASETS or methods < MIN_METHODS:
            p, cd = None, None
            note = (f"The Friedman test and the critical difference need at least {MIN_DATASETS} datasets and "
                    f"{MIN_METHODS} methods; this sweep has {datasets} datasets and {methods} methods on all of them.")
        else:
            p = friedman(ranks.drop(columns="average rank").to_numpy().T)
            cd = critical_difference(methods, datasets)
            note = (f"Friedman test over {datasets} datasets and {methods} methods: p = {p:.3g}"
                    + ("; the methods differ" if p < ALPHA else "; no difference shown")
                    + f". Nemenyi critical difference of average ranks at alpha {ALPHA}: {cd:.2f} "
                    "(two methods whose average ranks differ by less are not shown to differ).")
        summaries.append(RankSummary(task, selection, metric, [b.dataset for b in members], ranks, p, cd, note))
    return summaries
