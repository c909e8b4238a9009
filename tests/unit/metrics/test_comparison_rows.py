"""Comparison rows of two runs' stages: values as the summary computes them, verdicts by direction."""

from __future__ import annotations

import numpy as np
import pytest

from ais_bench.errors import ConfigError
from ais_bench.metrics import compute_summary
from ais_bench.metrics.comparison import (
    FASTER,
    NO_CHANGE,
    NOT_TESTED,
    SLOWER,
    Rate,
    StageSample,
    change_pct,
    compare_samples,
    sample_stage,
)
from ais_bench.metrics.goodput import SloBound, compute_goodput
from ais_bench.metrics.stage import Interval
from ais_bench.records.record import RequestTable


def closed_loop_table(n: int, lanes: int, ttft_s: float, gap_s: float, tokens: int) -> RequestTable:
    """``n`` streamed requests back to back on ``lanes`` lanes: TTFT ``ttft_s`` then ``tokens - 1``
    gaps of ``gap_s`` plus a small deterministic jitter per request (so percentiles have spread)."""
    jitter = (np.arange(n) % 7) * 0.001
    length = ttft_s + jitter + (tokens - 1) * gap_s
    starts = np.zeros(n)
    for i in range(lanes, n):
        starts[i] = starts[i - lanes] + length[i - lanes]
    points = [
        [s, s + ttft_s + j, *(s + ttft_s + j + gap_s * np.arange(1, tokens))] for s, j in zip(starts, jitter, strict=True)
    ]
    return RequestTable.from_columns(points, [True] * n, [10] * n, [tokens] * n)


def test_values_are_the_summary_values() -> None:
    table = closed_loop_table(40, 4, 0.05, 0.01, 8)
    sample = sample_stage(table, stage="total", batch_size=4, stream=True)
    rows = {row.key: row for row in compare_samples(sample, sample)}
    summary = compute_summary(table, stage="total", stats_list=("Average", "P50", "P90", "P99"), batch_size=4, stream=True)
    by_name = {row.name: row for row in summary.rows}
    for metric, name in (("ttft", "TTFT"), ("tpot", "TPOT"), ("itl", "ITL"), ("e2el", "E2EL")):
        for stat, summary_stat in (("mean", "Average"), ("p50", "P50"), ("p90", "P90"), ("p99", "P99")):
            value = by_name[name].value(summary_stat)
            assert value is not None
            assert rows[f"{metric}.{stat}"].a == pytest.approx(value * 1000, rel=1e-12)
    common = {metric.name: metric.value for metric in summary.common}
    assert rows["request_throughput"].a == pytest.approx(common["Request Throughput"])
    assert rows["output_token_throughput"].a == pytest.approx(common["Output Token Throughput"])


def test_a_run_against_itself_changes_nothing() -> None:
    sample = sample_stage(closed_loop_table(60, 4, 0.05, 0.01, 8), stage="total", batch_size=4, stream=True)
    rows = compare_samples(sample, sample)
    assert len(rows) == 4 * 4 + 2
    assert {row.verdict for row in rows} == {NO_CHANGE}
    assert all(row.change_pct == 0.0 for row in rows)


def test_slower_decoding_is_slower_and_fewer_tokens_per_second() -> None:
    fast = sample_stage(closed_loop_table(60, 4, 0.05, 0.01, 8), stage="total", batch_size=4, stream=True)
    slow = sample_stage(closed_loop_table(60, 4, 0.05, 0.03, 8), stage="total", batch_size=4, stream=True)
    rows = {row.key: row for row in compare_samples(fast, slow)}
    for key in ("tpot.mean", "tpot.p50", "itl.mean", "e2el.mean", "e2el.p50", "e2el.p90"):
        assert rows[key].verdict == SLOWER, key
    assert rows["ttft.mean"].verdict == NO_CHANGE  # the same TTFT in both
    assert rows["output_token_throughput"].verdict == SLOWER
    assert rows["output_token_throughput"].change_pct is not None and rows["output_token_throughput"].change_pct < 0
    reverse = {row.key: row.verdict for row in compare_samples(slow, fast)}
    assert reverse["tpot.mean"] == FASTER and reverse["request_throughput"] == FASTER


def test_rows_without_intervals_are_not_tested() -> None:
    tiny = StageSample("total", {"e2el": np.array([0.1, 0.2])}, {"request_throughput": Rate(5.0, None)})
    rows = {row.key: row for row in compare_samples(tiny, tiny)}
    assert rows["e2el.p50"].verdict == NOT_TESTED and rows["e2el.p50"].difference is None
    assert rows["request_throughput"].verdict == NOT_TESTED
    assert rows["e2el.mean"].verdict == NO_CHANGE  # Mann-Whitney works on two values


def test_throughput_verdicts_follow_their_intervals() -> None:
    def rate(value: float, half: float) -> Rate:
        return Rate(value, Interval(value, value - half, value + half, "req/s", "batch means", 10))

    base = StageSample("stable", {}, {"request_throughput": rate(100.0, 3.0)})
    more = StageSample("stable", {}, {"request_throughput": rate(110.0, 4.0)})  # 10 +- 5: beyond noise
    near = StageSample("stable", {}, {"request_throughput": rate(104.0, 4.0)})  # 4 +- 5: noise
    assert compare_samples(base, more)[0].verdict == FASTER
    assert compare_samples(base, more)[0].difference == pytest.approx((5.0, 15.0))
    assert compare_samples(base, near)[0].verdict == NO_CHANGE
    assert compare_samples(more, base)[0].verdict == SLOWER


def test_change_pct() -> None:
    assert change_pct(200.0, 250.0) == 25.0
    assert change_pct(0.0, 1.0) is None


@pytest.mark.parametrize("stage", ["total", "stable"])
def test_goodput_rows_are_the_goodput_values(stage: str) -> None:
    # E2EL is 0.05 + jitter (0..6 ms) + 7 x gap: a bound between the shortest and the longest splits them
    fast = closed_loop_table(60, 4, 0.05, 0.01, 8)
    bounds = (SloBound("e2el", 123.5),)
    a = sample_stage(fast, stage=stage, batch_size=4, stream=True, slo=bounds)
    b = sample_stage(closed_loop_table(60, 4, 0.05, 0.03, 8), stage=stage, batch_size=4, stream=True, slo=bounds)
    rows = {row.key: row for row in compare_samples(a, b)}
    expected = compute_goodput(fast, bounds, stage=stage, batch_size=4, stream=True)
    assert 0 < expected.attainment < 1
    assert rows["goodput"].a == pytest.approx(expected.goodput, rel=1e-12)
    assert rows["slo_attainment"].a == pytest.approx(expected.attainment, rel=1e-12)
    assert rows["slo_attainment"].b == 0.0  # every slow request takes 0.26 s or more
    assert rows["slo_attainment"].verdict == SLOWER and rows["slo_attainment"].test == "wilson"
    assert rows["goodput"].verdict == SLOWER and rows["goodput"].test == "batch means"
    same = {row.key: row.verdict for row in compare_samples(a, a)}
    assert same["goodput"] == NO_CHANGE and same["slo_attainment"] == NO_CHANGE


def test_no_goodput_rows_without_bounds_and_bounds_need_streaming() -> None:
    table = closed_loop_table(20, 4, 0.05, 0.01, 8)
    sample = sample_stage(table, stage="total", batch_size=4, stream=True)
    assert "goodput" not in {row.key for row in compare_samples(sample, sample)}
    with pytest.raises(ConfigError):
        sample_stage(table, stage="total", batch_size=4, stream=False, slo=(SloBound("ttft", 10.0),))
