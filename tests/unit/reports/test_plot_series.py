"""Time series and distributions of the concurrency report against hand-computed values, and the
switch from per-request traces to bins past ``PER_REQUEST_LIMIT`` requests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ais_bench.metrics.per_request import compute_per_request
from ais_bench.records.record import RequestTable
from ais_bench.reports.html_figure import TRACE_NAMES, build_figure, build_report_data
from ais_bench.reports.html_report import write_plot
from ais_bench.reports.plot_data import build_inflight_steps
from ais_bench.reports.plot_series import (
    PER_REQUEST_LIMIT,
    ROLLING_HALF_BINS,
    SKETCH_LOW_MS,
    SKETCH_RELATIVE_ERROR,
    TimeBins,
    binned_rate,
    build_density,
    build_distribution,
    build_inflight_range,
    build_latency_points,
    build_throughput,
    build_time_bins,
    rolling_percentiles,
    rolling_window_s,
)


@pytest.mark.parametrize(
    ("span", "width", "count"), [(10.0, 0.1, 100), (60.0, 0.5, 120), (86_400.0, 1000.0, 87), (0.0, 1.0, 1)]
)
def test_time_bins_width_from_the_span(span: float, width: float, count: int) -> None:
    bins = build_time_bins(span)
    assert bins.width_s == pytest.approx(width) and bins.count == count
    assert bins.edges_rel_s[-1] >= span


def test_binned_rate_counts_and_weights_per_second() -> None:
    times = np.array([0.1, 0.5, 1.2, 2.9, 3.0, np.nan])  # 3.0 is the closed end of the last bin
    assert binned_rate(TimeBins(1.0, 3), times).tolist() == [2.0, 1.0, 2.0]
    weights = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    assert binned_rate(TimeBins(1.0, 3), times, weights).tolist() == [3.0, 3.0, 9.0]
    assert binned_rate(TimeBins(0.5, 6), times).tolist() == [2.0, 2.0, 2.0, 0.0, 0.0, 4.0]


def test_percentiles_of_each_bin_alone_by_hand() -> None:
    times = np.array([2.6, 0.1, 1.5, 0.3, 0.2, 2.5, 0.4, 3.5])
    values = np.array([7.0, 1.0, 10.0, 3.0, 2.0, 5.0, 4.0, np.nan])  # a NaN value is left out
    levels = rolling_percentiles(TimeBins(1.0, 4), times, values, qs=(50, 99), half_width=0)
    # bin 0: 1, 2, 3, 4 -> p50 2.5, p99 at rank 0.99 * 3 = 2.97: 3 + 0.97 * (4 - 3)
    np.testing.assert_allclose(levels[0], [2.5, 3.97])
    np.testing.assert_allclose(levels[1], [10.0, 10.0])
    np.testing.assert_allclose(levels[2], [6.0, 5 + 0.99 * 2])  # 5, 7
    assert np.isnan(levels[3]).all()  # no value in bin 3


def test_rolling_percentiles_by_hand() -> None:
    # values sent at known times; bins of 1 s: bin 0 holds 1, 2; bin 1: 10; bin 2: 4, 6; bin 3: none; bin 4: 20
    times = np.array([0.1, 0.2, 1.5, 2.5, 2.6, 4.2])
    values = np.array([1.0, 2.0, 10.0, 4.0, 6.0, 20.0])
    levels = rolling_percentiles(TimeBins(1.0, 5), times, values, qs=(50, 99), half_width=1)
    # window of bin j: bins j-1 .. j+1 (cut at the ends); p99 at rank 0.99 * (n - 1), linear
    np.testing.assert_allclose(levels[0], [2.0, 2 + 0.98 * 8])  # 1, 2, 10
    np.testing.assert_allclose(levels[1], [4.0, 6 + 0.96 * 4])  # 1, 2, 4, 6, 10
    np.testing.assert_allclose(levels[2], [6.0, 6 + 0.98 * 4])  # 4, 6, 10
    np.testing.assert_allclose(levels[3], [6.0, 6 + 0.98 * 14])  # 4, 6, 20
    np.testing.assert_allclose(levels[4], [20.0, 20.0])  # 20 (bin 3 is empty)
    # a window with no value is a gap; the default window is 5 bins
    sparse = rolling_percentiles(TimeBins(1.0, 7), np.array([0.5, 6.5]), np.array([1.0, 3.0]), qs=(50,), half_width=1)
    assert np.isnan(sparse[2:5]).all() and sparse[:2, 0].tolist() == [1.0, 1.0] and sparse[5:, 0].tolist() == [3.0, 3.0]
    assert rolling_window_s(TimeBins(0.5, 10)) == 2.5 == (2 * ROLLING_HALF_BINS + 1) * 0.5


def test_sketch_percentiles_by_hand() -> None:
    # one value of 1 ms: its bin is [1, 1 + 2**-7) ms and the value is placed in the middle of it
    one = rolling_percentiles(TimeBins(1.0, 1), np.array([0.5]), np.array([1.0]), qs=(50,), exact=False)
    assert one[0, 0] == 1 + 0.5 * 2**-7
    # 0 and 3 ms: p50 halfway between the two order statistics, each in the middle of its bin
    # (3 ms is in [3, 3 + 2 * 2**-7): a bin is 2**-7 of the power of two below the value wide)
    two = rolling_percentiles(TimeBins(1.0, 1), np.array([0.1, 0.2]), np.array([0.0, 3.0]), qs=(50,), exact=False)
    assert two[0, 0] == pytest.approx(((0 + 0.5 * SKETCH_LOW_MS) + (3 + 0.5 * 2 * 2**-7)) / 2)


def test_sketch_is_within_its_stated_error_of_the_exact_values() -> None:
    rng = np.random.default_rng(7)
    times = rng.uniform(0, 100, 200_000)
    values = rng.lognormal(np.log(20.0), 1.0, times.size).astype(np.float32)  # ms: 1 to 1000s
    kept = values.copy()
    bins = TimeBins(1.0, 100)
    exact = rolling_percentiles(bins, times, values, qs=(1, 50, 99, 99.9))
    sketched = rolling_percentiles(bins, times, values, qs=(1, 50, 99, 99.9), exact=False)
    np.testing.assert_allclose(sketched, exact, rtol=SKETCH_RELATIVE_ERROR)
    np.testing.assert_array_equal(values, kept)  # the caller's values are not changed
    assert SKETCH_RELATIVE_ERROR < 0.01


def test_density_counts_values_per_row_and_bin() -> None:
    times = np.array([0.2, 0.2, 1.1, 1.9])
    values = np.array([0.5, 1.5, 2.5, 9.0])  # 9 is above the top (3): counted in the top row
    density = build_density(TimeBins(1.0, 2), times, values, top=3.0, rows=3)
    assert density.value_edges.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert density.counts.tolist() == [[1, 0], [1, 0], [0, 2]]


def test_distribution_histogram_to_p99_9_and_exact_cdf() -> None:
    values = np.arange(101, dtype=np.float64)  # 0 .. 100
    dist = build_distribution(values, bars=3)
    assert dist is not None and dist.size == 101
    np.testing.assert_allclose(dist.edges, [0.0, 33.3, 66.6, 99.9])
    assert dist.counts.tolist() == [34, 33, 34]  # 0-33, 34-66, 67-99 and 100 (above p99.9)
    np.testing.assert_allclose(dist.cdf_value, np.linspace(0, 100, 201))
    np.testing.assert_allclose(dist.cdf_share, np.linspace(0, 1, 201))
    assert build_distribution(np.array([np.nan])) is None
    one_value = build_distribution(np.array([100.0, 100.0 + 1e-13, 100.0]), bars=4)  # float noise only
    assert one_value is not None and one_value.counts.sum() == 3 and one_value.edges[-1] == pytest.approx(101.0)


def _two_requests() -> RequestTable:
    # A: sent 10.0, events 10.2, 10.5, 11.0, 3 tokens; B: sent 9.5 (the first send), one event at 9.9,
    # 1 token; C failed (sent 10.1, seen failing at 10.1).
    return RequestTable.from_columns(
        [[10.0, 10.2, 10.5, 11.0], [9.5, 9.9], [10.1]], [True, True, False], [7, 5, 0], [3, 1, 0]
    )


def test_latency_points_by_hand() -> None:
    table = _two_requests()
    points = build_latency_points(table, compute_per_request(table, stream=True), origin_s=9.5)
    np.testing.assert_allclose(points.ttft[0], [0.5, 0.0])
    np.testing.assert_allclose(points.ttft[1], [200.0, 400.0])
    np.testing.assert_allclose(points.e2el[1], [1000.0, 400.0])
    # A's gaps 0.3 s and 0.5 s end at 10.5 and 11.0; B has none
    np.testing.assert_allclose(points.itl_gaps[0], [1.0, 1.5])
    np.testing.assert_allclose(points.itl_gaps[1], [300.0, 500.0])
    # A's mean gap (11.0 - 10.2) / 2 at the middle of its decode (10.6)
    np.testing.assert_allclose(points.itl_mean[0], [1.1])
    np.testing.assert_allclose(points.itl_mean[1], [400.0])
    np.testing.assert_allclose(points.tpot_ms, [400.0])  # (1.0 - 0.2) / (3 - 1); B has one token: none
    plain = build_latency_points(table, compute_per_request(table, stream=False), origin_s=9.5)
    assert plain.ttft[1].size == 0 and plain.itl_gaps[1].size == 0 and plain.tpot_ms.size == 0
    np.testing.assert_allclose(plain.e2el[1], [1000.0, 400.0])


def test_throughput_spreads_tokens_over_events() -> None:
    table = _two_requests()
    out = build_throughput(table, compute_per_request(table, stream=True), TimeBins(1.0, 2), origin_s=9.5)
    # A's 3 tokens over its events at 0.7, 1.0, 1.5 s; B's 1 token at 0.4 s
    assert out.output_tokens_per_s.tolist() == [2.0, 2.0]
    assert out.requests_per_s.tolist() == [1.0, 1.0]  # B ends at 0.4 s, A at 1.5 s
    assert out.failed_per_s.tolist() == [1.0, 0.0]  # C failed at 0.6 s


def test_inflight_range_per_bin_by_hand() -> None:
    # docs/metrics.md worked example: after 0, 1, 2.5, 3, 4.5, 5, 6, 8 s the count is 1 2 1 2 1 2 1 0
    steps = build_inflight_steps(np.array([1.0, 2, 4, 6]), np.array([3.5, 5.5, 7, 9]), origin_s=1.0)
    span = build_inflight_range(steps, TimeBins(1.0, 10))
    assert span.low.tolist() == [1, 2, 1, 2, 1, 2, 1, 1, 0, 0]
    assert span.high.tolist() == [1, 2, 2, 2, 2, 2, 1, 1, 0, 0]
    late = build_inflight_steps(np.array([0.5]), np.array([1.5]), origin_s=0.0)
    span = build_inflight_range(late, TimeBins(1.0, 2))
    assert span.low.tolist() == [0, 0] and span.high.tolist() == [1, 1]  # 0 before the first step


def _back_to_back(n: int) -> RequestTable:
    """``n`` streamed requests, 8 at a time, each 1 s long with events at +0.1, +0.5 and +1.0 s."""
    start = np.repeat(np.arange(-(-n // 8), dtype=np.float64), 8)[:n]
    points = np.stack([start, start + 0.1, start + 0.5, start + 1.0], axis=1)
    return RequestTable(
        start_s=start, end_s=points[:, -1].copy(), success=np.ones(n, dtype=bool),
        input_tokens=np.full(n, 10), output_tokens=np.full(n, 4),
        offsets=np.arange(n + 1, dtype=np.int64) * 4, time_points_s=points.reshape(-1),
    )


def test_per_request_traces_up_to_the_limit_then_bins(tmp_path: Path) -> None:
    at_limit = build_report_data(_back_to_back(PER_REQUEST_LIMIT), stream=True)
    assert not at_limit.binned
    figure = build_figure(_back_to_back(PER_REQUEST_LIMIT), stream=True)
    names = {trace["name"] for trace in figure["data"]}
    assert {TRACE_NAMES["ttft"], "TTFT per request", "Mean ITL per request (at mid-decode)"} <= names
    assert not [trace for trace in figure["data"] if trace["type"] == "heatmap"]

    over = _back_to_back(PER_REQUEST_LIMIT + 1)
    assert build_report_data(over, stream=True).binned
    figure = build_figure(over, stream=True)
    names = {trace["name"] for trace in figure["data"]}
    assert not names & {TRACE_NAMES["ttft"], TRACE_NAMES["decode"], "TTFT per request"}
    assert [t["name"] for t in figure["data"] if t["type"] == "heatmap"] == ["E2EL density", "TTFT density",
                                                                             "ITL density"]
    assert not [t for t in figure["data"] if t["type"] == "scattergl"]  # no per-request or per-step trace
    width = build_time_bins(2501.0).width_s  # 20,001 requests 8 at a time: 2,501 s
    assert f"TTFT p99 over a rolling {5 * width:g} s" in names
    inflight = [t for t in figure["data"] if t["name"].startswith("In flight")]
    assert [t["name"] for t in inflight] == [
        "In flight (successful requests), lowest per 2 s", "In flight (successful requests), highest per 2 s"
    ]
    assert inflight[1]["y"].max() == 8

    page = write_plot(tmp_path / "big_plot.html", over, stream=True).read_text(encoding="utf-8")
    assert f"This run has 20,001 requests, more than {PER_REQUEST_LIMIT:,}" in page
    small = write_plot(tmp_path / "small_plot.html", _back_to_back(100), stream=True).read_text(encoding="utf-8")
    assert "binned-note" not in small and "ais-bench-distributions" in small
    assert "binned-note" in page
    assert "rolling-note" in page and "rolling-note" in small
    assert f"within {SKETCH_RELATIVE_ERROR:.1%} of the exact value" in page and "exact (numpy" in small


def test_time_series_rows_by_hand() -> None:
    # 16 requests, 8 at a time: seconds 0-1 and 1-2; 4 tokens each over events at +0.1, +0.5, +1.0 s
    figure = build_figure(_back_to_back(16), stream=True)
    traces = {trace["name"]: trace for trace in figure["data"]}
    width = build_time_bins(2.0).width_s
    assert width == pytest.approx(0.02)
    ttft_p50 = traces[f"TTFT p50 over a rolling {5 * width:g} s"]
    # the two send moments, 100 ms each, at 0 s (bin 0) and 1 s (bin 50): every window reaching bin 0
    # (bins 0-2: cut at the start) or bin 50 (bins 48-52) has the value
    assert np.flatnonzero(np.isfinite(ttft_p50["y"])).tolist() == [0, 1, 2, 48, 49, 50, 51, 52]
    np.testing.assert_allclose(ttft_p50["y"][np.isfinite(ttft_p50["y"])], [100.0] * 8)
    completed = traces[f"Requests completed/s (per {width:g} s)"]["y"][:-1]
    # 8 requests end at 1.0 s and 8 at 2.0 s (the last bin's closed end): 8 / 0.02 s each
    assert completed.sum() * width == pytest.approx(16) and completed.max() == pytest.approx(400.0)
    tokens = traces[f"Output tokens/s (per {width:g} s)"]["y"][:-1]
    assert tokens.sum() * width == pytest.approx(64)  # every token counted once


def test_non_streaming_runs_draw_no_ttft_or_itl() -> None:
    table = _back_to_back(16)
    data = build_report_data(table, stream=False)
    assert list(data.distributions) == ["e2el"]  # no TTFT, TPOT or ITL without a stream
    figure = build_figure(table, stream=False)
    titles = [a["text"] for a in figure["layout"]["annotations"]]
    assert not [t for t in titles if t.startswith(("TTFT", "ITL"))]
    # every token is counted once, over the time points after each send
    tokens = next(t for t in figure["data"] if t["name"].startswith("Output tokens/s"))
    width = data.bins.width_s
    assert tokens["y"][:-1].sum() * width == pytest.approx(64)


def test_a_run_where_every_request_failed_has_no_distributions(tmp_path: Path) -> None:
    table = RequestTable.from_columns([[1.0], [1.5]], [False, False], [5, 5], [0, 0], end_s=[2.0, 2.5])
    data = build_report_data(table, stream=True)
    assert data.distributions == {} and data.latency == []
    assert data.throughput.failed_per_s.sum() * data.bins.width_s == pytest.approx(2)
    page = write_plot(tmp_path / "failed_plot.html", table, stream=True).read_text(encoding="utf-8")
    assert "ais-bench-distributions" not in page and "Requests failed/s" in page
