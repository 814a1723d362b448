"""The report's uncertainty: 95 % intervals of means and ties with the best row."""
import math

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
