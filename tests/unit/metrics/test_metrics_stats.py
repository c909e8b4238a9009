from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ais_bench.metrics.quantiles import percentiles
from ais_bench.metrics.stats import (
    compute_metric_stats,
    compute_stat_values,
    is_statistic,
    percentile_of,
)
from tests.support.examples import examples


def test_percentile_names() -> None:
    stats = ["P95", "P05", "P005", "P1", "P99", "Median", "P99.9", "P9.5", "P0.5", "P99.99"]
    assert all(is_statistic(s) for s in stats)
    assert [percentile_of(s) for s in stats] == [95.0, 5.0, 5.0, 1.0, 99.0, 50.0, 99.9, 9.5, 0.5, 99.99]
    assert percentile_of("Average") is None


@pytest.mark.parametrize("bad", [
    "P0", "P00", "P100", "p95", "Mean", "average", "", "P-5", None, 95,
    "P0.0", "P100.0", "P99.", "P.5", "P99.9.9", "P95\n", "P1e1", "P 95",
])
def test_unknown_names_are_not_statistics(bad: object) -> None:
    assert not is_statistic(bad)


def test_statistics_keep_full_precision() -> None:
    values = np.array([0.4, 0.8, 1.0])
    stats = ["Average", "Min", "Max", "Median", "P75", "P90", "P99"]
    # mean 2.2/3 = 0.7333..; P75: rank 1.5 -> 0.8 + 0.5*0.2 = 0.9; P90: 0.8 + 0.8*0.2 = 0.96
    # P99: 0.8 + 0.98*0.2 = 0.996
    expected = [2.2 / 3, 0.4, 1.0, 0.8, 0.9, 0.96, 0.996]
    assert compute_stat_values(values, stats) == pytest.approx(expected, rel=1e-12)
    assert compute_stat_values(values, ["Average"])[0] != round(2.2 / 3, 4)  # not rounded
    shown = compute_metric_stats("E2EL", "total", values, stats, unit="ms", n=3)
    assert shown.values == pytest.approx(expected, rel=1e-12)  # seconds, shown in ms by the writers
    assert shown.value("P90") == pytest.approx(0.96) and shown.unit == "ms" and shown.n == 3


def test_fractional_percentiles_by_hand() -> None:
    # numpy's linear rule: virtual index (n - 1) * q / 100
    values = np.arange(11, dtype=np.float64)  # 0 .. 10: index 10 * 0.999 = 9.99 -> 9.99
    assert compute_stat_values(values, ["P99.9", "P0.5", "P12.5"]) == pytest.approx([9.99, 0.05, 1.25], rel=1e-12)
    # [0.4, 0.8, 1.0]: index 2 * 0.999 = 1.998 -> 0.8 + 0.998 * 0.2 = 0.9996
    assert compute_stat_values(np.array([0.4, 0.8, 1.0]), ["P99.9"]) == pytest.approx([0.9996], rel=1e-12)


def test_latency_statistics_are_not_rounded_in_seconds() -> None:
    shown = compute_metric_stats("TTFT", "total", np.array([0.12345678]), ["Average"], unit="ms", n=1)
    assert shown.values == (0.12345678,)
    tokens = compute_metric_stats("OutputTokens", "total", np.array([1, 2, 2]), ["Average"], unit="", n=3)
    assert tokens.values == (5 / 3,)


def test_empty_values_are_missing() -> None:
    assert compute_stat_values(np.array([]), ["Average", "P90"]) == [None, None]


@settings(max_examples=examples(200), deadline=None)
@given(
    values=st.lists(
        st.one_of(st.integers(-5, 5).map(float), st.floats(-1e6, 1e6, allow_nan=False)),
        min_size=1,
        max_size=300,
    ),
    qs=st.lists(st.integers(1, 99), min_size=1, max_size=8),
)
def test_fast_percentiles_are_bit_identical_to_numpy(values: list[float], qs: list[int]) -> None:
    array = np.array(values)
    assert percentiles(array, qs, fast_min_size=2) == np.percentile(array, qs).tolist()


def test_fast_percentiles_on_a_large_array() -> None:
    array = np.random.default_rng(7).exponential(0.01, 4_500_000)
    qs = [1, 50, 75, 90, 99]
    assert percentiles(array, qs) == np.percentile(array, qs).tolist()


def test_fast_percentiles_fall_back_when_the_sample_misleads(monkeypatch: pytest.MonkeyPatch) -> None:
    from ais_bench.metrics import quantiles

    # brackets that hold nothing / the wrong ranks force the exact full-partition fallback
    monkeypatch.setattr(quantiles, "_brackets", lambda values, groups: [(0.5, 0.6) for _ in groups])
    array = np.random.default_rng(5).normal(size=5000)
    qs = [1, 25, 50, 75, 99]
    assert percentiles(array, qs, fast_min_size=2) == np.percentile(array, qs).tolist()
