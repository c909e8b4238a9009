from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from metrics_helpers import request_rows, table_from_rows
from metrics_reference import RefTable, ref_per_request, ref_stable_window, ref_stat, ref_window_work

from ais_bench.errors import AllRequestsFailed, NoSteadyStage
from ais_bench.metrics import COMMON_METRIC_NAMES, compute_summary
from ais_bench.metrics.stats import MetricStats
from ais_bench.records.record import RequestTable
from ais_bench.reports.cells import aisbench_common, aisbench_stat
from tests.support.examples import examples


def shown(row: MetricStats) -> tuple[float | None, ...]:
    """The row's statistics as the tables show them (values are full precision, native units)."""
    return tuple(aisbench_stat(value, row.unit) for value in row.values)

STATS = ["Average", "Min", "Max", "Median", "P75", "P90", "P99"]


def test_hand_computed_total_summary(hand_table: RequestTable) -> None:
    summary = compute_summary(hand_table, stage="total", stats_list=STATS, batch_size=2, stream=True)
    rows = {row.name: row for row in summary.rows}
    assert list(rows) == [
        "E2EL", "TTFT", "TPOT", "ITL", "InputTokens", "OutputTokens",
        "OutputTokenThroughput", "PrefillTokenThroughput",
    ]  # fmt: skip
    # Linear percentiles over 3 sorted values [a, b, c]: Median = b, P75 = b + 0.5(c-b),
    # P90 = b + 0.8(c-b), P99 = b + 0.98(c-b). Tables round to 4 decimals in seconds, then x1000.
    # E2EL [1.0, 0.8, 0.4] s: mean 2.2/3 = 0.7333; P75 0.9, P90 0.96, P99 0.996
    assert shown(rows["E2EL"]) == (733.3, 400.0, 1000.0, 800.0, 900.0, 960.0, 996.0)
    # TTFT [0.2, 0.3, 0.4] s: mean 0.3; P75 0.35, P90 0.38, P99 0.398
    assert shown(rows["TTFT"]) == (300.0, 200.0, 400.0, 300.0, 350.0, 380.0, 398.0)
    # TPOT [0.8/8 = 0.1, 0.5/3 = 0.16667] s (the one-token request has no TPOT: left out, not 0):
    # mean 0.13333; median 0.13333; P75 0.1 + 0.75*0.06667 = 0.15; P90 0.16; P99 0.166
    assert shown(rows["TPOT"]) == (133.3, 100.0, 166.7, 133.3, 150.0, 160.0, 166.0)
    # ITL pooled [0.1, 0.15, 0.55, 0.3, 0.2] s, sorted [0.1, 0.15, 0.2, 0.3, 0.55]: mean 1.3/5 = 0.26;
    # median 0.2; P75 rank 3 -> 0.3; P90 rank 3.6 -> 0.3 + 0.6*0.25 = 0.45; P99 rank 3.96 -> 0.54
    assert shown(rows["ITL"]) == (260.0, 100.0, 550.0, 200.0, 300.0, 450.0, 540.0)
    # InputTokens [100, 200, 50]: mean 116.6667; P75 150; P90 100 + 0.8*100 = 180; P99 198
    assert shown(rows["InputTokens"]) == (116.6667, 50.0, 200.0, 100.0, 150.0, 180.0, 198.0)
    # OutputTokens [9, 4, 1]: mean 4.6667; P75 6.5; P90 4 + 0.8*5 = 8; P99 8.9
    assert shown(rows["OutputTokens"]) == (4.6667, 1.0, 9.0, 4.0, 6.5, 8.0, 8.9)
    # OutputTokenThroughput 9/1.0, 4/0.8, 1/0.4 = [9, 5, 2.5]: mean 5.5; P75 7; P90 8.2; P99 8.92
    assert shown(rows["OutputTokenThroughput"]) == (5.5, 2.5, 9.0, 5.0, 7.0, 8.2, 8.92)
    # PrefillTokenThroughput 100/0.2, 200/0.3, 50/0.4 = [500, 666.6667, 125]: mean 430.5556;
    # P75 500 + 0.5*166.6667 = 583.3333; P90 633.3333; P99 663.3333
    assert shown(rows["PrefillTokenThroughput"]) == (
        430.5556, 125.0, 666.6667, 500.0, 583.3333, 633.3333, 663.3333,
    )  # fmt: skip
    assert [rows[n].unit for n in rows] == ["ms"] * 4 + ["", ""] + ["token/s"] * 2
    # N: the values each row's statistics used: 3 successful requests; TPOT: the 2 requests with
    # more than one output token; ITL: the 5 gaps
    assert [rows[n].n for n in rows] == [3, 3, 2, 5, 3, 3, 3, 3]
    assert all(row.stage == "total" for row in summary.rows)

    common = {m.name: (aisbench_common(m.value), m.unit) for m in summary.common}
    assert list(common) == list(COMMON_METRIC_NAMES)
    # D = max(end) - min(start) = 11.4 - 10.0 = 1.4 s; 5 requests, 3 successful
    assert common["Benchmark Duration"] == (1400.0, "ms")
    assert common["Total Requests"] == (5, "")
    assert common["Failed Requests"] == (2, "")
    assert common["Success Requests"] == (3, "")
    assert common["Concurrency"] == (1.5714, "")  # sum(E2EL) / D = 2.2 / 1.4
    assert common["Max Concurrency"] == (2, "")
    assert common["Request Throughput"] == (2.1429, "req/s")  # 3 / 1.4
    assert common["Total Input Tokens"] == (350, "")  # failed rows' tokens are not counted
    assert common["Total Generated Tokens"] == (14, "")
    assert common["Input Token Throughput"] == (250.0, "token/s")  # 350 / 1.4
    assert common["Output Token Throughput"] == (10.0, "token/s")  # 14 / 1.4
    assert common["Total Token Throughput"] == (260.0, "token/s")  # 364 / 1.4
    assert summary.window is None
    assert summary.warnings == ["2 of 5 requests failed in the total stage"]


def test_non_streaming_rows() -> None:
    table = RequestTable.from_columns([[0.0, 1.0], [0.5, 2.0]], [True, True], [10, 20], [5, 6])
    summary = compute_summary(table, stage="total", stats_list=["Average"], batch_size=1, stream=False)
    assert [r.name for r in summary.rows] == ["E2EL", "InputTokens", "OutputTokens", "OutputTokenThroughput"]


def test_itl_row_kept_when_only_the_first_request_has_zero_gaps() -> None:
    # request 0: ITL [0.0, 0.0] (the original would drop the ITL row), request 1: ITL [0.1]
    table = RequestTable.from_columns([[0.0, 0.1, 0.1, 0.1], [1.0, 1.2, 1.3]], [True, True], [1, 1], [3, 2])
    summary = compute_summary(table, stage="total", stats_list=["Max"], batch_size=1, stream=True)
    itl = next(r for r in summary.rows if r.name == "ITL")
    assert itl.values == pytest.approx((0.1,)) and itl.n == 3  # N counts the gaps: [0, 0] and [0.1]


def test_itl_and_tpot_rows_removed_without_decode() -> None:
    # every output is one token and every response one event: no ITL gap, TPOT sum 0
    table = RequestTable.from_columns([[0.0, 0.1], [1.0, 1.2]], [True, True], [1, 1], [1, 1])
    summary = compute_summary(table, stage="total", stats_list=("Average",), batch_size=1, stream=True)
    names = [r.name for r in summary.rows]
    assert "ITL" not in names and "TPOT" not in names and "TTFT" in names
    assert summary.stats_list == ("Average",)


def test_zero_duration_omits_token_throughputs() -> None:
    table = RequestTable.from_columns([[1.0, 1.0]], [True], [3], [4])
    summary = compute_summary(table, stage="total", stats_list=("Average",), batch_size=1, stream=True)
    common = {m.name: m.value for m in summary.common}
    assert "Input Token Throughput" not in common and common["Request Throughput"] == 0.0
    assert len(common) == 9


def test_all_failed_raises() -> None:
    table = RequestTable.from_columns([[1.0], []], [True, False], [1, 1], [1, 1])
    with pytest.raises(AllRequestsFailed):
        compute_summary(table, stage="total", stats_list=("Average",), batch_size=1, stream=True)


def test_the_stats_list_is_used_as_given(hand_table: RequestTable) -> None:
    """The config loader validated it (config/summarizers.py); the metrics do not check it again."""
    summary = compute_summary(hand_table, stage="total", stats_list=("P95", "Min"), batch_size=1, stream=True)
    assert summary.stats_list == ("P95", "Min") and summary.rows[0].stats == ("P95", "Min")


def test_bad_stage_name(hand_table: RequestTable) -> None:
    with pytest.raises(ValueError):
        compute_summary(hand_table, stage="steady", stats_list=("Average",), batch_size=1, stream=True)


@settings(max_examples=examples(200), deadline=None)
@given(rows=request_rows(), stage=st.sampled_from(["total", "stable"]), batch_size=st.integers(1, 4))
def test_summary_matches_reference(
    rows: list[tuple[list[float], bool, int, int]], stage: str, batch_size: int
) -> None:
    table = table_from_rows(rows)
    ref = ref_per_request(
        RefTable([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows]), True
    )
    stats = ["Average", "Min", "Max", "Median", "P25", "P90"]
    if not ref:
        with pytest.raises(AllRequestsFailed):
            compute_summary(table, stage=stage, stats_list=stats, batch_size=batch_size, stream=True)
        return
    window = ref_stable_window(ref, batch_size) if stage == "stable" else None
    if stage == "stable" and window is None:
        with pytest.raises(NoSteadyStage):
            compute_summary(table, stage=stage, stats_list=stats, batch_size=batch_size, stream=True)
        return
    summary = compute_summary(table, stage=stage, stats_list=stats, batch_size=batch_size, stream=True)
    if window is not None:
        work = ref_window_work(ref, *window)
        ref = [r for r in ref if window[0] <= r.start < window[1]]
        duration = window[1] - window[0]
    else:
        work = float(len(ref))
        duration = max(r.end for r in ref) - min(r.start for r in ref)
    series = {
        "E2EL": [r.e2el for r in ref],
        "TTFT": [r.ttft for r in ref],
        "TPOT": [r.tpot for r in ref if r.n_out > 1],  # a 1-token request has no TPOT
        "ITL": [g for r in ref for g in r.itl],
        "InputTokens": [float(r.n_in) for r in ref],
        "OutputTokens": [float(r.n_out) for r in ref],
        "OutputTokenThroughput": [r.out_tp for r in ref],
        "PrefillTokenThroughput": [r.prefill_tp for r in ref],
    }
    decoding = sum(1 for r in ref if any(g != 0 for g in r.itl))
    for row in summary.rows:
        for stat, value in zip(row.stats, row.values, strict=True):
            expected = ref_stat(series[row.name], stat)  # native units, full precision
            assert value is not None
            assert math.isclose(value, expected, rel_tol=1e-9, abs_tol=1e-12), (row.name, stat)
        assert row.n == len(series[row.name])  # N: the values the statistics used (ITL: gaps)
    shown = {r.name for r in summary.rows}
    assert ("ITL" in shown) == (decoding > 0)
    common = {m.name: m.value for m in summary.common}
    assert common["Success Requests"] == len(ref)
    assert common["Benchmark Duration"] == pytest.approx(duration * 1000, rel=1e-12)
    assert common["Total Generated Tokens"] == sum(r.n_out for r in ref)
    expected_rate = work / duration if duration > 0 else 0.0
    assert common["Request Throughput"] == pytest.approx(expected_rate, rel=1e-9)


def test_slot_wait_row_over_the_requests_that_used_a_slot(hand_table: RequestTable) -> None:
    # request 0 was not paced (NaN), request 1 found a free slot (0 s), request 2 waited 0.2 s
    waited = dataclasses.replace(hand_table, slot_wait_s=np.array([np.nan, 0.0, 0.2]))
    summary = compute_summary(waited, stage="total", stats_list=["Average", "Max"], batch_size=2, stream=True)
    rows = {row.name: row for row in summary.rows}
    assert list(rows)[-1] == "SlotWait"
    assert rows["SlotWait"].n == 2 and rows["SlotWait"].unit == "ms"
    assert shown(rows["SlotWait"]) == (100.0, 200.0)
    # nobody waited: no row (AISBench's table unchanged)
    for waits in ([np.nan, 0.0, 0.0], [np.nan] * 3, None):
        free = dataclasses.replace(hand_table, slot_wait_s=None if waits is None else np.array(waits))
        names = [row.name for row in compute_summary(free, stage="total", stats_list=["Average"], batch_size=2, stream=True).rows]
        assert "SlotWait" not in names
