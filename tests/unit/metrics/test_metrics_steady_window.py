"""The steady window on lanes finishing in lockstep, its rates, steadiness and confidence intervals."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ais_bench.errors import NoSteadyStage
from ais_bench.metrics import compute_summary
from ais_bench.metrics.confidence import (
    BOOTSTRAP_MAX_REQUESTS,
    batch_count,
    fractions_inside,
    median_interval,
    rate_intervals,
)
from ais_bench.metrics.in_flight import Events, build_in_flight, compute_steadiness, longest_run_s
from ais_bench.metrics.per_request import compute_per_request
from ais_bench.metrics.stable_stage import select_stable_stage
from ais_bench.records.record import RequestTable
from tests.support.examples import examples

# The quick start: 8 requests, batch_size 3, every request 0.735 s (100 ms TTFT + 63 x ~10 ms).
E2EL_S = 0.735
LANES = 3
REQUESTS = 8


def lockstep_schedule(turnarounds: list[float], stretches: list[float]) -> tuple[list[float], list[float]]:
    """Each request goes to the lane that is free first, ``turnarounds[k]`` after it freed up, and
    lasts ``E2EL_S + stretches[k]``; the three lanes start at 0 (plus request k's turnaround)."""
    free = [0.0] * LANES
    starts, ends = [], []
    for k in range(REQUESTS):
        lane = min(range(LANES), key=lambda i: (free[i], i))
        start = free[lane] + turnarounds[k]
        end = start + E2EL_S + stretches[k]
        starts.append(start)
        ends.append(end)
        free[lane] = end
    return starts, ends


def _table(starts: list[float], ends: list[float]) -> RequestTable:
    points = [[s, s + 0.1, e] for s, e in zip(starts, ends, strict=True)]
    return RequestTable.from_columns(points, [True] * len(starts), [100] * len(starts), [64] * len(starts))


def test_lockstep_quick_start_window_is_the_middle_round() -> None:
    # ends of one round and starts of the next are stamped 0.1-0.3 ms apart, in this order:
    # e0 s3 e1 e2 s4 s5 (round 1 -> 2) and e3 e4 s6 e5 s7 (round 2 -> 3)
    starts, ends = lockstep_schedule(
        [0, 0, 0, 1e-4, 3e-4, 2e-4, 1e-4, 2e-4], [0, 1e-4, 2e-4, 0, 0, 1e-4, 0, 0]
    )
    table = _table(starts, ends)
    selection = select_stable_stage(table, compute_per_request(table, True), LANES)
    window = selection.window
    assert window is not None
    # t2 = the first end of round 1 (0.735), t4 = the first end of round 2
    assert (window.start_s, window.end_s) == (ends[0], min(ends[3:6]))
    assert selection.requests.row_index.tolist() == [3, 4, 5]
    # requests 3-5 lie inside almost whole; 1, 2, 6, 7 touch the window by < 0.3 ms
    assert selection.work.requests == pytest.approx(3.0, abs=2e-3)
    rate = selection.work.requests / selection.duration_s
    assert rate == pytest.approx(LANES / E2EL_S, rel=0.01)  # 4.08 req/s; the original's rule: 6.8
    assert window.at_batch_size_share > 0.99 and window.mean_in_flight == pytest.approx(3.0, abs=0.01)
    assert window.peak_in_flight == 3
    # 3 requests < 2 x batch_size: warned, and the intervals are not computed (too little data)
    assert any(w.startswith("Steady window is short") for w in window.warnings)
    assert window.confidence["Request Throughput"] is None and window.confidence["TTFT Median"] is None


@settings(max_examples=examples(300), deadline=None)
@given(
    turnarounds=st.lists(st.floats(0, 5e-4), min_size=REQUESTS, max_size=REQUESTS),
    stretches=st.lists(st.floats(0, 2e-4), min_size=REQUESTS, max_size=REQUESTS),
)
def test_lockstep_window_does_not_depend_on_the_order_of_simultaneous_events(
    turnarounds: list[float], stretches: list[float]
) -> None:
    # any order of the near-simultaneous ends and starts gives the same window (to the jitter), the
    # same steady requests and the true rate: 3 lanes / 0.735 s = 4.08 req/s
    starts, ends = lockstep_schedule(turnarounds, stretches)
    table = _table(starts, ends)
    selection = select_stable_stage(table, compute_per_request(table, True), LANES)
    assert selection.window is not None
    assert selection.window.start_s == pytest.approx(E2EL_S, abs=2e-3)
    assert selection.window.end_s == pytest.approx(2 * E2EL_S, abs=3e-3)
    assert sorted(selection.requests.row_index.tolist()) == [3, 4, 5]
    true_rate = LANES / float(np.median(np.subtract(ends, starts)))
    assert selection.work.requests / selection.duration_s == pytest.approx(true_rate, rel=0.01)


def test_hand_computed_window_rates_and_steadiness() -> None:
    # the docs/metrics.md example, batch_size 2: window [4, 7) s
    starts, ends = [1.0, 2.0, 4.0, 6.0], [3.5, 5.5, 7.0, 9.0]
    points = [[s, s + 0.5, e] for s, e in zip(starts, ends, strict=True)]
    table = RequestTable.from_columns(points, [True] * 4, [10, 20, 30, 40], [3, 3, 5, 7])
    summary = compute_summary(table, stage="stable", stats_list=["Average"], batch_size=2, stream=True)
    common = {m.name: m.value for m in summary.common}
    assert common["Benchmark Duration"] == 3000.0
    # shares inside [4, 7): r0 0, r1 1.5/3.5, r2 3/3, r3 1/3 (full precision, rounded only when shown)
    share_r1 = 1.5 / 3.5
    assert common["Request Throughput"] == pytest.approx((share_r1 + 1 + 1 / 3) / 3, rel=1e-12)
    assert common["Input Token Throughput"] == pytest.approx((20 * share_r1 + 30 + 40 / 3) / 3, rel=1e-12)
    assert common["Output Token Throughput"] == pytest.approx((3 * share_r1 + 5 + 7 / 3) / 3, rel=1e-12)
    assert common["Total Token Throughput"] == pytest.approx((23 * share_r1 + 35 + 47 / 3) / 3, rel=1e-12)
    # in flight: 2 on [4, 5.5), 1 on [5.5, 6), 2 on [6, 7): mean 5.5 / 3, peak 2
    assert common["Concurrency"] == pytest.approx(5.5 / 3, rel=1e-12) and common["Max Concurrency"] == 2
    # the totals and the latency statistics stay over the requests started in the window (2 and 3)
    assert (common["Success Requests"], common["Total Input Tokens"], common["Total Generated Tokens"]) == (
        2,
        70,
        12,
    )
    assert summary.rows[0].values == (3.0,)  # E2EL in seconds
    window = summary.window
    assert window is not None
    assert window.at_batch_size_share == pytest.approx(2.5 / 3)
    assert window.longest_below_batch_size_s == pytest.approx(0.5)
    assert window.work_requests == pytest.approx(1.5 / 3.5 + 1 + 1 / 3)


def test_concurrency_is_not_capped_at_batch_size() -> None:
    # batch_size 2 but up to 4 in flight (an open-loop replay), 1 s requests: window [1.0, 2.15) with
    # 2, 3, 4, 3, 3, 2 in flight for 0.1, 0.05, 0.05, 0.8, 0.1, 0.05 s
    starts = [0.0, 0.2, 1.0, 1.1, 1.15, 2.0]
    table = _table(starts, [s + 1.0 for s in starts])
    summary = compute_summary(table, stage="stable", stats_list=["Average"], batch_size=2, stream=True)
    common = {m.name: m.value for m in summary.common}
    window = summary.window
    assert window is not None and (window.start_s, window.end_s) == (1.0, 2.15)
    assert common["Max Concurrency"] == 4 == window.peak_in_flight
    assert common["Concurrency"] == pytest.approx(3.35 / 1.15, rel=1e-12)


def test_in_flight_steps_and_longest_stretch() -> None:
    steps = build_in_flight(Events.of(np.array([0.0, 1.0, 1.0, 4.0]), np.array([2.0, 3.0, 5.0, 6.0])))
    # 1 on [0,1), 3 on [1,2), 2 on [2,3), 1 on [3,4), 2 on [4,5), 1 on [5,6), 0 after
    assert steps.times.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert steps.count.tolist() == [1, 3, 2, 1, 2, 1, 0]
    durations, counts = steps.segments(0.5, 4.5)
    assert durations.tolist() == [0.5, 1.0, 1.0, 1.0, 0.5] and counts.tolist() == [1, 3, 2, 1, 2]
    steady = compute_steadiness(steps, 0.5, 4.5, 2)
    assert steady.mean_in_flight == pytest.approx((0.5 + 3 + 2 + 1 + 1) / 4)
    assert steady.peak_in_flight == 3 and steady.at_batch_size_share == pytest.approx(2.5 / 4)
    assert steady.longest_below_batch_size_s == pytest.approx(1.0)
    assert (
        longest_run_s(np.array([1.0, 2.0, 0.5, 0.25, 3.0]), np.array([True, True, False, True, False])) == 3.0
    )
    assert longest_run_s(np.zeros(0), np.zeros(0, dtype=bool)) == 0.0


def test_batch_means_interval_hand_computed() -> None:
    # window [0, 4), 2 batches; request A [0, 2) whole in batch 1, B [1, 4): 1/3 in batch 1, 2/3 in 2
    assert batch_count(4.0, 2.0) == 2 and batch_count(4.0, 3.0) == 1 and batch_count(100.0, 1.0) == 10
    start, end = np.array([0.0, 1.0]), np.array([2.0, 4.0])
    weights = {"r": (np.ones(2), "req/s"), "t": (np.array([3.0, 6.0]), "token/s")}
    intervals = rate_intervals(start, end, weights, (0.0, 4.0), 2)
    interval = intervals["r"]
    assert interval is not None
    # batch rates (1 + 1/3) / 2 = 0.6667 and (2/3) / 2 = 0.3333: mean 0.5, sd 0.2357,
    # half-width 12.7062 x 0.2357 / sqrt(2) = 2.1177
    assert interval.estimate == pytest.approx(0.5) and interval.low == 0.0
    assert interval.high == pytest.approx(2.6177, abs=1e-4)
    assert interval.method == "batch means" and interval.n == 2
    # token weights 3 and 6: batch rates (3 + 2) / 2 = 2.5 and 4 / 2 = 2: mean 2.25, sd 0.35355,
    # half-width 12.7062 x 0.35355 / sqrt(2) = 3.17655
    assert intervals["t"] is not None and intervals["t"].low == 0.0
    assert intervals["t"].high == pytest.approx(5.4265, abs=1e-4)
    assert rate_intervals(start, end, {"r": (np.ones(2), "req/s")}, (0.0, 4.0), 1) == {"r": None}
    np.testing.assert_allclose(fractions_inside(start, end, 1.0, 3.0), [0.5, 2 / 3])


def test_median_interval_is_seeded_and_needs_six_values() -> None:
    assert median_interval(np.array([0.1] * 5)) is None
    values = np.linspace(0.1, 0.2, 51)
    first, again = median_interval(values), median_interval(values.copy())
    assert first is not None and first == again and first.method == "bootstrap"
    assert first.low < first.estimate < first.high and first.estimate == pytest.approx(150.0)
    # above the bootstrap limit: the order statistics at ranks n/2 -/+ 1.96 sqrt(n)/2 (25.5 -/+ 7.0)
    large = median_interval(values, max_bootstrap=50)
    assert large is not None and large.method == "order statistics"
    assert (large.low, large.high) == (values[18] * 1000, values[33] * 1000)
    assert BOOTSTRAP_MAX_REQUESTS >= 1000


def test_long_steady_run_gets_narrow_intervals() -> None:
    # 3 lanes, 60 rounds of 0.735 s: a long window, so all four intervals exist and are tight
    starts = [r * E2EL_S for r in range(60) for _ in range(LANES)]
    ends = [s + E2EL_S for s in starts]
    table = _table(starts, ends)
    summary = compute_summary(table, stage="stable", stats_list=["Median"], batch_size=LANES, stream=True)
    window = summary.window
    assert window is not None and not window.warnings
    rate = window.confidence["Request Throughput"]
    assert rate is not None and rate.n == 10
    assert rate.low - 1e-4 <= LANES / E2EL_S <= rate.high + 1e-4 and rate.high - rate.low < 0.05
    assert window.confidence["TTFT Median"] is not None and window.confidence["TPOT Median"] is not None


def test_degenerate_window_is_an_error_with_advice() -> None:
    table = _table([0.0, 0.5, 1.1], [1.0, 1.5, 2.1])
    with pytest.raises(NoSteadyStage) as caught:
        compute_summary(table, stage="stable", stats_list=("Average",), batch_size=2, stream=True)
    assert (
        caught.value.code == "AIS-NO-STEADY-STAGE" and "shorter than half the median" in caught.value.message
    )


def test_window_under_a_tenth_of_the_run_is_warned_about() -> None:
    # 3 lanes of 1 s requests for 2 rounds, then one lane alone for 30 more: the steady window
    # (round 2, 1 s) is 1 / 32 of the run
    starts = [0.0, 0.0, 0.0, 1.0, 1.0, 1.0, *[2.0 + k for k in range(30)]]
    table = _table(starts, [s + 1.0 for s in starts])
    summary = compute_summary(table, stage="stable", stats_list=["Average"], batch_size=3, stream=True)
    window = summary.window
    assert window is not None and (window.start_s, window.end_s) == (1.0, 2.0)
    assert window.share == pytest.approx(1 / 32)
    assert "it is 3.1% of the run (under 10%)" in window.warnings[0]
    assert summary.warnings[0] == window.warnings[0]
