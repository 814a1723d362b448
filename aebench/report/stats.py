"""The uncertainty a leaderboard states: a Student-t 95 % confidence interval of each mean, and
which rows are tied with the best row on the ranking metric.

Ties: Welch's t-test (unequal variances; Welch 1947) of each row against the best row, over their
runs, with Holm's step-down correction (Holm 1979) over the rows tested; a row is tied with the
best where its corrected p-value is at least ``ALPHA``. Seeds are not paired: two rows' runs with
the same seed share no data draw that a paired test could remove. A row or a best row with one
run is not tested (no claim either way).
"""
from __future__ import annotations

import math
import warnings
from typing import Sequence

import numpy as np
from scipy import stats

ALPHA = 0.05
TEST = "Welch's t-test against the best row of the same code size, Holm-corrected over the rows, tied where p >= 0.05"


def ci95_halfwidth(values: Sequence[float]) -> float:
    """Half the width of the 95 % Student-t interval of the mean; NaN below two values."""
    values = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    if len(values) < 2:
        return math.nan
    return float(stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values)))


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's adjusted p-values, in the order given."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    adjusted, running = [0.0] * len(pvalues), 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[index]))
        adjusted[index] = running
    return adjusted


def welch_p(sample: np.ndarray, best: np.ndarray) -> float:
    if sample.std(ddof=1) == 0 and best.std(ddof=1) == 0:  # no spread on either side: equal or not
        return 1.0 if sample.mean() == best.mean() else 0.0
    with warnings.catch_warnings():  # nearly equal samples: scipy warns of lost precision, the p-value stands
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(stats.ttest_ind(sample, best, equal_var=False).pvalue)


def tied_with_best(samples: Sequence[Sequence[float]], best: int) -> list[str]:
    """For each row: ``best``, ``tied``, ``worse`` or ``-`` (not tested: fewer than two runs)."""
    clean = [np.asarray([v for v in s if v is not None and not math.isnan(v)], dtype=float) for s in samples]
    tested = [i for i, sample in enumerate(clean) if i != best and len(sample) >= 2 and len(clean[best]) >= 2]
    adjusted = dict(zip(tested, holm([welch_p(clean[i], clean[best]) for i in tested])))
    return ["best" if i == best else "-" if i not in adjusted else "tied" if adjusted[i] >= ALPHA else "worse"
            for i in range(len(clean))]
