from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ais_bench.load.schedule import (
    TrafficShape,
    build_send_offsets,
    choose_worker_count,
    request_rates,
    split_concurrency,
)


def test_burstiness_zero_gives_fixed_gaps() -> None:
    offsets = build_send_offsets(5, 4.0, TrafficShape(burstiness=0), seed=1)
    assert offsets is not None
    np.testing.assert_allclose(offsets, [0.0, 0.25, 0.5, 0.75, 1.0])


def test_poisson_mean_gap_is_one_over_rate_and_total_is_pinned() -> None:
    n, rate = 2000, 50.0
    offsets = build_send_offsets(n, rate, TrafficShape(burstiness=1.0), seed=7)
    assert offsets is not None
    gaps = np.diff(offsets)
    # n gaps add up to exactly n/rate; the first n-1 of them are visible as offsets.
    assert gaps.mean() == pytest.approx(1 / rate, rel=0.05)
    assert offsets[-1] < n / rate
    # Poisson gaps: coefficient of variation close to 1.
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, abs=0.1)


def test_seed_reproduces_and_differs() -> None:
    shape = TrafficShape(burstiness=0.5)
    a = build_send_offsets(100, 10.0, shape, seed=3)
    b = build_send_offsets(100, 10.0, shape, seed=3)
    c = build_send_offsets(100, 10.0, shape, seed=4)
    assert a is not None and b is not None and c is not None
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_unpaced_below_min_rate() -> None:
    assert build_send_offsets(10, 0.0, TrafficShape()) is None
    assert build_send_offsets(10, 0.0009, TrafficShape()) is None
    assert build_send_offsets(10, 0.001, TrafficShape(burstiness=0)) is not None


def test_linear_and_exponential_ramp_rates() -> None:
    linear = request_rates(5, 0, TrafficShape(ramp_up_strategy="linear", ramp_up_start_rps=1, ramp_up_end_rps=5))
    np.testing.assert_allclose(linear, [1, 2, 3, 4, 5])
    expo = request_rates(3, 0, TrafficShape(ramp_up_strategy="exponential", ramp_up_start_rps=1, ramp_up_end_rps=4))
    np.testing.assert_allclose(expo, [1, 2, 4])
    fixed_gaps = build_send_offsets(
        3, 0, TrafficShape(burstiness=0, ramp_up_strategy="linear", ramp_up_start_rps=1, ramp_up_end_rps=2)
    )
    assert fixed_gaps is not None
    np.testing.assert_allclose(fixed_gaps, [0.0, 1.0, 1.0 + 1 / 1.5])


@given(st.integers(1, 10_000), st.integers(1, 64))
def test_split_concurrency_sums_and_balances(batch: int, workers: int) -> None:
    parts = split_concurrency(batch, workers)
    assert sum(parts) == batch
    assert max(parts) - min(parts) <= 1
    assert parts == sorted(parts, reverse=True)


def test_worker_count() -> None:
    assert choose_worker_count(1000, 0, 16, debug=False) == 2
    assert choose_worker_count(10, 0, 2, debug=False) == 1
    assert choose_worker_count(10, 4, 2, debug=False) == 2
    assert choose_worker_count(10, 4, 16, debug=True) == 1
    assert choose_worker_count(1, 4, 16, debug=False) == 1
