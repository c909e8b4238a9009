"""Mann–Whitney U, percentile intervals and the interval of a difference, against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ais_bench.metrics.significance import (
    MIN_VALUES,
    difference_interval,
    mann_whitney,
    percentile_intervals,
)
from ais_bench.metrics.stage import Interval


def test_mann_whitney_without_ties() -> None:
    # ranks of b: 4 + 5 + 6 = 15, U_b = 15 - 3*4/2 = 9; mean 4.5; variance 3*3/12 * 7 = 5.25
    # z = (|9 - 4.5| - 0.5) / sqrt(5.25) = 1.745743; p = erfc(z / sqrt 2) = 0.080856
    test = mann_whitney(np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0]))
    assert test is not None
    assert test.u_b == 9.0
    assert test.z == pytest.approx(4 / math.sqrt(5.25), rel=1e-12)
    assert test.p_value == pytest.approx(0.0808556, abs=1e-6)
    assert test.b_larger and not test.significant


def test_mann_whitney_with_ties() -> None:
    # pooled 1, 2, 2, 2, 3, 3 -> ranks 1, 3, 3, 3, 5.5, 5.5; b's ranks 3 + 5.5 + 5.5 = 14, U_b = 8
    # ties: groups of 3 and 2 -> sum(t^3 - t) = 24 + 6 = 30; variance = 9/12 * (7 - 30 / 30) = 4.5
    # z = (3.5 - 0.5) / sqrt(4.5) = sqrt(2); p = erfc(1) = 0.157299
    test = mann_whitney(np.array([1.0, 2.0, 2.0]), np.array([2.0, 3.0, 3.0]))
    assert test is not None
    assert test.u_b == 8.0
    assert test.z == pytest.approx(math.sqrt(2), rel=1e-12)
    assert test.p_value == pytest.approx(math.erfc(1.0), rel=1e-12)


def test_mann_whitney_b_smaller_and_significant() -> None:
    a = np.arange(20, 40, dtype=float)
    b = np.arange(0, 20, dtype=float)
    test = mann_whitney(a, b)
    assert test is not None
    # U_b = 0 (no b larger than any a); mean 200; variance 400/12 * 41; z = 199.5 / sqrt(1366.67)
    assert test.u_b == 0.0
    assert test.z == pytest.approx(199.5 / math.sqrt(400 / 12 * 41), rel=1e-12)
    assert not test.b_larger and test.significant


def test_mann_whitney_identical_samples_and_edge_cases() -> None:
    values = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0])
    same = mann_whitney(values, values)
    assert same is not None and same.p_value == 1.0 and not same.significant
    constant = mann_whitney(np.ones(4), np.ones(5))
    assert constant is not None and constant.p_value == 1.0
    assert mann_whitney(np.array([]), values) is None
    assert mann_whitney(np.array([np.nan]), values) is None  # NaN left out


@given(st.lists(st.integers(0, 5), min_size=1, max_size=30), st.lists(st.integers(0, 5), min_size=1, max_size=30))
def test_mann_whitney_u_counts_pairs(a_list: list[int], b_list: list[int]) -> None:
    """U_b = the pairs where b > a plus half the ties (the definition, by brute force)."""
    a, b = np.array(a_list, dtype=float), np.array(b_list, dtype=float)
    test = mann_whitney(a, b)
    assert test is not None
    pairs = sum(1.0 if y > x else 0.5 if y == x else 0.0 for x in a_list for y in b_list)
    assert test.u_b == pytest.approx(pairs)
    assert 0.0 <= test.p_value <= 1.0


def test_percentile_interval_by_order_statistics() -> None:
    # 20,000 values 0..19999 (above the bootstrap limit): p99 ranks 19800 -/+ 1.96 sqrt(20000*.99*.01)
    # = 19800 -/+ 27.58 -> [19772, 19828]; the estimate is numpy's linear percentile 0.99 * 19999
    values = np.random.default_rng(1).permutation(20_000).astype(float)
    interval = percentile_intervals(values, (99.0,), "ms")[99.0]
    assert interval is not None
    assert (interval.low, interval.high, interval.method, interval.n) == (19772.0, 19828.0, "order statistics", 20_000)
    assert interval.estimate == pytest.approx(0.99 * 19999)


def test_percentile_interval_by_bootstrap_is_seeded_and_holds_the_estimate() -> None:
    values = np.random.default_rng(2).exponential(10.0, 500)
    first = percentile_intervals(values, (50.0, 90.0, 99.0))
    again = percentile_intervals(values, (50.0, 90.0, 99.0))
    assert first == again
    for q, interval in first.items():
        assert interval is not None and interval.method == "bootstrap"
        assert interval.low <= np.percentile(values, q) <= interval.high
    constant = percentile_intervals(np.full(50, 7.0), (90.0,))[90.0]
    assert constant is not None and (constant.low, constant.estimate, constant.high) == (7.0, 7.0, 7.0)


def test_percentile_interval_needs_enough_values() -> None:
    assert percentile_intervals(np.arange(MIN_VALUES - 1, dtype=float), (50.0,)) == {50.0: None}


def test_difference_interval_combines_both_sides() -> None:
    # d = 15 - 10 = 5; low = 5 - hypot(15 - 14, 13 - 10) = 5 - sqrt(10); high = 5 + hypot(19 - 15, 10 - 8) = 5 + sqrt(20)
    a = Interval(estimate=10.0, low=8.0, high=13.0, unit="ms", method="bootstrap", n=100)
    b = Interval(estimate=15.0, low=14.0, high=19.0, unit="ms", method="bootstrap", n=100)
    low, high = difference_interval(a, b)
    assert low == pytest.approx(5 - math.sqrt(10))
    assert high == pytest.approx(5 + math.sqrt(20))
    assert difference_interval(a, a) == pytest.approx((-math.sqrt(13), math.sqrt(13)))
