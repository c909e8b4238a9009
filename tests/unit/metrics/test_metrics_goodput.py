"""Goodput under SLO bounds: hand-computed values from known timestamps, and its properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from metrics_helpers import request_rows, table_from_rows

from ais_bench.errors import ConfigError, NoSteadyStage
from ais_bench.metrics.confidence import wilson_interval
from ais_bench.metrics.goodput import SLO_METRICS, SloBound, compute_goodput
from ais_bench.metrics.summary import compute_summary
from ais_bench.records.record import RequestTable
from tests.support.examples import examples

# Times are binary fractions, so every TTFT / TPOT / E2EL below is exact in float64 and a value
# "at the limit" is exactly the limit.
#   row  points                        out  TTFT   TPOT              E2EL
#   0    0, .25, .5, .75, 1            4    0.25   (1-.25)/3 = 0.25  1.0
#   1    .5, 1, 1.5                    3    0.5    (1-.5)/2 = 0.25   1.0
#   2    1, 1.125, 2                   2    0.125  .875/1 = 0.875    1.0
#   3    1.5, 1.75                     1    0.25   none (1 token)    0.25
#   4    failed, sent at 2.0
#   5    "successful" with one point: counts as failed
# Total stage: D = max end 2.0 - min start 0.0 = 2.0 s; 6 requests, 2 failed.
TOTAL_POINTS = [[0.0, 0.25, 0.5, 0.75, 1.0], [0.5, 1.0, 1.5], [1.0, 1.125, 2.0], [1.5, 1.75], [2.0], [2.5]]
TOTAL_SUCCESS = [True, True, True, True, False, True]
TOTAL_OUT = [4, 3, 2, 1, 0, 0]


def _total_table() -> RequestTable:
    return RequestTable.from_columns(TOTAL_POINTS, TOTAL_SUCCESS, [10] * 6, TOTAL_OUT)


def _bounds(**limits_ms: float) -> tuple[SloBound, ...]:
    return tuple(SloBound(metric, limit) for metric, limit in limits_ms.items())


def test_total_stage_hand_computed_with_failed_requests_and_bounds_at_the_limit() -> None:
    # ttft <= 250: rows 0 and 3 sit exactly at the limit (good: <=, as vLLM), row 1 (500) misses.
    # tpot <= 250: row 0 exactly at it, row 1 at it, row 2 (875) misses, row 3 has no TPOT (meets it).
    # Good: rows 0 and 3 -> goodput 2 / 2.0 s = 1.0 req/s; attainment 2 / 6 (failed rows count).
    result = compute_goodput(_total_table(), _bounds(ttft=250, tpot=250))
    assert (result.requests, result.good_requests, result.failed_requests) == (6, 2, 2)
    assert result.duration_s == 2.0
    assert result.goodput == 1.0
    assert result.attainment == pytest.approx(2 / 6)
    assert [(m.metric, m.limit_ms, m.missed) for m in result.misses] == [("ttft", 250, 1), ("tpot", 250, 1)]
    assert result.most_missed is not None and result.most_missed.metric == "ttft"  # first of equals
    assert result.goodput_interval is None  # rates carry an interval in the steady stage only


def test_a_bound_just_below_the_value_fails_it() -> None:
    # 249.999 ms < 250 ms: rows 0 and 3 now miss ttft too; only row 2 (125 ms) is good.
    result = compute_goodput(_total_table(), _bounds(ttft=249.999))
    assert result.good_requests == 1
    assert result.goodput == 0.5
    assert result.misses[0].missed == 3


def test_e2el_bound_and_the_most_missed_bound() -> None:
    # e2el <= 999 ms: rows 0, 1, 2 (1000 ms) miss, row 3 (250 ms) is good.
    result = compute_goodput(_total_table(), _bounds(ttft=250, e2el=999))
    assert result.good_requests == 1
    assert result.goodput == 0.5
    assert {m.metric: m.missed for m in result.misses} == {"ttft": 1, "e2el": 3}
    assert result.most_missed is not None and result.most_missed.metric == "e2el"


def test_nothing_missed_has_no_most_missed_bound() -> None:
    result = compute_goodput(_total_table(), _bounds(e2el=1000))
    assert result.good_requests == 4  # every successful request; the 2 failed are not good
    assert result.goodput == 2.0  # = Request Throughput, 4 / 2.0 s
    assert result.most_missed is None


def test_attainment_carries_a_wilson_interval() -> None:
    # 2 good of 6: Wilson 95 % interval (0.0968, 0.7000), computed by hand with z = 1.959964.
    interval = compute_goodput(_total_table(), _bounds(ttft=250, tpot=250)).attainment_interval
    assert interval is not None
    assert (interval.method, interval.n, interval.unit) == ("wilson", 6, "")
    assert interval.estimate == pytest.approx(2 / 6)
    assert interval.low == pytest.approx(0.096771, abs=1e-5)
    assert interval.high == pytest.approx(0.700011, abs=1e-5)


def test_wilson_interval_at_the_edges() -> None:
    all_met = wilson_interval(20, 20)
    assert all_met is not None
    assert all_met.high == 1.0 and all_met.low == pytest.approx(20 / (20 + 1.959964**2), abs=1e-9)
    none_met = wilson_interval(0, 20)
    assert none_met is not None and none_met.low == 0.0 and none_met.high == pytest.approx(1 - all_met.low)
    assert wilson_interval(0, 0) is None


# Steady stage, batch_size 2 (the behaviour spec's first oracle, test_metrics_stages.py): starts 1, 2,
# 4, 6 and ends 3.5, 5.5, 7, 9; window [4, 7), D = 3 s; steady requests: rows 2 and 3. Each request's
# points are [start, midpoint, end], so TTFT = E2EL / 2: 1.25, 1.75, 1.5, 1.5 s. Row 4 failed, sent
# at 5.0: inside the window.
STABLE_STARTS = [1.0, 2.0, 4.0, 6.0]
STABLE_ENDS = [3.5, 5.5, 7.0, 9.0]


def _stable_table() -> RequestTable:
    points = [[s, (s + e) / 2, e] for s, e in zip(STABLE_STARTS, STABLE_ENDS, strict=True)] + [[5.0]]
    return RequestTable.from_columns(points, [True] * 4 + [False], [10] * 5, [5] * 4 + [0])


def test_stable_stage_hand_computed() -> None:
    # ttft <= 1500: rows 0, 2, 3 good (2 and 3 at the limit), row 1 (1750) misses.
    # Attainment over the window's requests: rows 2, 3 good, row 4 failed -> 2 of 3.
    # Goodput counts every good request by its share of time inside [4, 7): row 0 none, row 2 all
    # (3/3), row 3 one third (6..7 of 6..9) -> (1 + 1/3) / 3 s. Request Throughput adds row 1's
    # 1.5/3.5 (4..5.5 of 2..5.5).
    table = _stable_table()
    result = compute_goodput(table, _bounds(ttft=1500), stage="stable", batch_size=2)
    assert (result.stage, result.requests, result.good_requests, result.failed_requests) == ("stable", 3, 2, 1)
    assert result.duration_s == 3.0
    assert result.attainment == pytest.approx(2 / 3)
    assert result.goodput == pytest.approx((1 + 1 / 3) / 3)
    assert result.misses[0].missed == 0  # the steady requests met it; row 1 is not in the window
    summary = compute_summary(table, stage="stable", batch_size=2, stream=True, slo=_bounds(ttft=1500))
    throughput = next(m.value for m in summary.common if m.name == "Request Throughput")
    assert throughput == pytest.approx((1.5 / 3.5 + 1 + 1 / 3) / 3)
    assert summary.goodput == result


def test_stable_stage_all_steady_requests_missing() -> None:
    result = compute_goodput(_stable_table(), _bounds(ttft=1400), stage="stable", batch_size=2)
    assert result.good_requests == 0
    assert result.goodput == 0.0  # row 0 is good but has no time inside the window
    assert result.misses[0].missed == 2


def test_summary_without_slo_has_no_goodput() -> None:
    assert compute_summary(_total_table(), stage="total", batch_size=1, stream=True).goodput is None


def test_ttft_and_tpot_bounds_need_streaming() -> None:
    with pytest.raises(ConfigError, match="needs streamed responses"):
        compute_goodput(_total_table(), _bounds(ttft=250), stream=False)
    with pytest.raises(ConfigError, match="tpot"):
        compute_summary(_total_table(), stage="total", batch_size=1, stream=False, slo=_bounds(tpot=9))
    assert compute_goodput(_total_table(), _bounds(e2el=1000), stream=False).good_requests == 4


def test_bound_values_are_checked() -> None:
    with pytest.raises(ValueError, match="itl"):
        SloBound("itl", 10)
    with pytest.raises(ValueError, match=">= 0"):
        SloBound("ttft", -1)
    with pytest.raises(ValueError, match=">= 0"):
        SloBound("ttft", math.inf)


_limits = st.floats(0, 6000, allow_nan=False)


@settings(max_examples=examples(150), deadline=None)
@given(rows=request_rows(), first=st.dictionaries(st.sampled_from(SLO_METRICS), _limits), extra=_limits,
       extra_metric=st.sampled_from(SLO_METRICS))
def test_goodput_never_exceeds_throughput_and_a_bound_never_raises_it(
    rows: list[tuple[list[float], bool, int, int]], first: dict[str, float], extra: float, extra_metric: str
) -> None:
    table = table_from_rows(rows)
    bounds = tuple(SloBound(m, v) for m, v in first.items())
    tighter = (*bounds, SloBound(extra_metric, extra))
    unbounded = compute_goodput(table, ())
    loose = compute_goodput(table, bounds)
    tight = compute_goodput(table, tighter)
    # no bound: every successful request is good, goodput is Request Throughput
    assert unbounded.good_requests == unbounded.requests - unbounded.failed_requests
    if unbounded.good_requests:
        summary = compute_summary(table, stage="total", batch_size=1, stream=True)
        throughput = next(m.value for m in summary.common if m.name == "Request Throughput")
        assert unbounded.goodput == pytest.approx(throughput)
    assert tight.goodput <= loose.goodput <= unbounded.goodput
    assert tight.good_requests <= loose.good_requests
    assert tight.attainment <= loose.attainment <= 1.0
    for result in (loose, tight):
        interval = result.attainment_interval
        if result.requests:
            assert interval is not None and interval.low <= result.attainment <= interval.high


@st.composite
def lane_tables(draw: st.DrawFn) -> tuple[RequestTable, int]:
    """``batch_size`` lanes sending back to back (so a steady stage usually exists), random request
    lengths, TTFT shares and output counts, plus a few failed requests at random send times."""
    batch_size = draw(st.integers(1, 4))
    points: list[list[float]] = []
    outputs: list[int] = []
    for _ in range(batch_size):
        t = draw(st.floats(0, 0.5))
        for _ in range(draw(st.integers(3, 7))):
            e2el = draw(st.floats(0.5, 3))
            first = t + e2el * draw(st.floats(0.05, 0.9))
            points.append([t, first, t + e2el])
            outputs.append(draw(st.integers(1, 8)))
            t += e2el
    failed = draw(st.lists(st.floats(0, 10), max_size=3))
    table = RequestTable.from_columns(
        points + [[s] for s in failed], [True] * len(points) + [False] * len(failed),
        [10] * (len(points) + len(failed)), outputs + [0] * len(failed),
    )
    return table, batch_size


@settings(max_examples=examples(100), deadline=None)
@given(drawn=lane_tables(), first=st.dictionaries(st.sampled_from(SLO_METRICS), st.floats(0, 3000)),
       extra=st.floats(0, 3000), extra_metric=st.sampled_from(SLO_METRICS))
def test_stable_stage_goodput_never_exceeds_throughput_and_a_bound_never_raises_it(
    drawn: tuple[RequestTable, int], first: dict[str, float], extra: float, extra_metric: str
) -> None:
    table, batch_size = drawn
    bounds = tuple(SloBound(m, v) for m, v in first.items())
    try:
        summary = compute_summary(table, stage="stable", batch_size=batch_size, stream=True, slo=bounds)
    except NoSteadyStage:
        assume(False)
        return
    throughput = next(m.value for m in summary.common if m.name == "Request Throughput")
    unbounded = compute_goodput(table, (), stage="stable", batch_size=batch_size)
    tight = compute_goodput(table, (*bounds, SloBound(extra_metric, extra)), stage="stable", batch_size=batch_size)
    loose = compute_goodput(table, bounds, stage="stable", batch_size=batch_size)
    assert summary.goodput == (loose if bounds else None)
    assert unbounded.goodput == pytest.approx(throughput)
    assert tight.goodput <= loose.goodput + 1e-12 and loose.goodput <= unbounded.goodput + 1e-12
    assert tight.good_requests <= loose.good_requests <= unbounded.good_requests
    assert loose.requests == next(m.value for m in summary.common if m.name == "Total Requests")
