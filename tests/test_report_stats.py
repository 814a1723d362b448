"""The report's uncertainty: 95 % intervals of means and ties with the best row."""
import math

import numpy as np
import pytest

from aebench.report.stats import ci95_halfwidth, holm, tied_with_best


def test_the_interval_is_students_t():
    # [1, 2, 3]: sd 1, n 3, t(0.975, 2) = 4.302653 (tables)
    assert ci95_halfwidth([1.0, 2.0, 3.0]) == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)
    assert math.isnan(ci95_halfwidth([1.0]))


def test_holm_against_its_definition():
    # p sorted 0.01, 0.02, 0.03, 0.04 over m = 4: 0.04, 0.06, 0.06 (monotone), 0.06
    assert holm([0.03, 0.01, 0.04, 0.02]) == pytest.approx([0.06, 0.04, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def test_rows_within_noise_of_the_best_are_tied_and_single_runs_are_not_tested():
    best, close, far, single = [10.0, 10.2, 9.8], [9.9, 10.1, 10.0], [5.0, 5.2, 4.8], [9.0]
    assert tied_with_best([best, close, far, single], 0) == ["best", "tied", "worse", "-"]
    assert tied_with_best([[3.0, 3.0], [3.0, 3.0], [2.0, 2.0]], 0) == ["best", "tied", "worse"]  # no spread


def runs_frame(psnr):
    """Runs as the report reads them from a store: {dataset: {model: [psnr of each seed]}}."""
    import pandas as pd

    rows = [{"dataset": dataset, "task": "reconstruct", "model": model, "regularizer": "none", "seed": str(seed),
             "run_id": f"{dataset}-{model}-{seed}", "metrics.test/psnr": value}
            for dataset, models in psnr.items() for model, values in models.items() for seed, value in enumerate(values)]
    return pd.DataFrame(rows)


def test_average_ranks_friedman_and_the_critical_difference_follow_demsar():
    from aebench.report.ranks import rank_summaries
    from aebench.report.table import leaderboards

    psnr = {"a": {"deep": [20, 20.2], "conv": [22, 22.2], "linear": [19, 19.2], "stacked": [18, 18.2]},
            "b": {"deep": [25, 25.2], "conv": [26, 26.2], "linear": [24, 24.2], "stacked": [24, 24.2]},
            "c": {"deep": [30, 30.2], "conv": [29, 29.2], "linear": [28, 28.2], "stacked": [27, 27.2],
                  "overcomplete": [40, 40.2]}}  # only on one dataset: not ranked
    (summary,) = rank_summaries(leaderboards(runs_frame(psnr)))
    ranks = summary.ranks["average rank"]
    assert dict(ranks) == pytest.approx({"conv / none": 4 / 3, "deep / none": 5 / 3, "linear / none": 9.5 / 3,
                                         "stacked / none": 11.5 / 3})  # ranks 1 2 3 4; 1 2 3.5 3.5; 2 1 3 4
    assert summary.ranks.loc["linear / none", "b"] == 3.5  # a tie shares the average rank
    assert 0.04 < summary.friedman_p < 0.06  # tie-corrected (dataset b ties two methods)
    assert summary.critical_difference == pytest.approx(2.569 * math.sqrt(4 * 5 / (6 * 3)), rel=1e-3)  # q(4) = 2.569
    assert "Friedman test over 3 datasets and 4 methods" in summary.note


def test_two_datasets_rank_without_a_test_and_say_why():
    from aebench.report.ranks import rank_summaries
    from aebench.report.table import leaderboards

    psnr = {d: {"deep": [20, 20.1], "conv": [22, 22.1], "linear": [19, 19.1]} for d in ("a", "b")}
    (summary,) = rank_summaries(leaderboards(runs_frame(psnr)))
    assert summary.friedman_p is None and summary.critical_difference is None
    assert "need at least 3 datasets and 3 methods; this sweep has 2 datasets" in summary.note
    assert rank_summaries(leaderboards(runs_frame({"a": psnr["a"]}))) == []  # one dataset: nothing across


def test_friedman_without_ties_is_demsars_formula():
    from scipy import stats

    from aebench.report.ranks import friedman

    ranks = np.array([[1, 2, 3, 4], [1, 3, 2, 4], [2, 1, 3, 4], [1, 2, 4, 3], [1, 2, 3, 4]], dtype=float)
    datasets, methods = ranks.shape
    average = ranks.mean(axis=0)  # Demšar (2006), eq. 1
    chi2 = 12 * datasets / (methods * (methods + 1)) * ((average ** 2).sum() - methods * (methods + 1) ** 2 / 4)
    assert friedman(ranks) == pytest.approx(stats.chi2.sf(chi2, methods - 1))


def test_tuned_values_show_once_and_never_split_a_method_across_datasets():
    """A tuned sweep that also varies the code size: each code size chose its own lr. The lr is
    shown in "selected hyperparameters", not as a column of its own, and ranks across datasets
    keep every method."""
    from aebench.report.ranks import rank_summaries
    from aebench.report.table import leaderboards

    rows = []
    for dataset, lrs in (("a", {"4": 0.001, "8": 0.003}), ("b", {"4": 0.01, "8": 0.0003})):
        for model in ("deep", "conv", "linear"):
            for code, lr in lrs.items():
                for seed in (0, 1):
                    rows.append({"dataset": dataset, "task": "reconstruct", "model": model, "regularizer": "none",
                                 "seed": str(seed), "run_id": f"{dataset}{model}{code}{seed}", "stage": "final",
                                 "selected_for": "reconstruction", "hyperparameters": f"lr={lr}",
                                 "tuned_keys": "trainer.lr", "params.trainer.lr": str(lr),
                                 "params.model.code_dim": code, "metrics.test/psnr": 20.0 + len(model) + seed})
    import pandas as pd

    boards = leaderboards(pd.DataFrame(rows))
    assert all(board.keys == ["model", "regularizer", "hyperparameters", "params.model.code_dim"] for board in boards)
    (summary,) = rank_summaries(boards)
    assert len(summary.ranks) == 6  # 3 models x 2 code sizes, on both datasets


def test_a_figure_is_cropped_as_a_tight_save_would_crop_it():
    """The tight box is measured once for PNG and PDF, at the PNG's resolution: long labels keep
    their margin (measured at the screen's 100 dpi, they were cut at the 110 of the PNG)."""
    import io

    import matplotlib.pyplot as plt
    from PIL import Image

    from aebench.report.figures import DPI, _drawn

    def figure():
        drawn, axes = plt.subplots(figsize=(4, 3))
        axes.barh(range(30), range(30))
        axes.set_yticks(range(30), [f"overcomplete / sparse_kl+denoising (a long row label {i})" for i in range(30)])
        return drawn

    reference = figure()
    buffer = io.BytesIO()
    reference.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(reference)
    ours = _drawn(figure())
    assert Image.open(io.BytesIO(ours.png)).size == Image.open(buffer).size
    assert ours.pdf.startswith(b"%PDF-")
