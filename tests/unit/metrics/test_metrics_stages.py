from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from metrics_helpers import request_rows, table_from_rows
from metrics_reference import RefTable, ref_per_request, ref_stable_window

from ais_bench.errors import NoSteadyStage
from ais_bench.metrics.per_request import compute_per_request
from ais_bench.metrics.stable_stage import find_stable_window, select_stable_stage
from ais_bench.metrics.total_stage import select_total_stage
from ais_bench.records.record import RequestTable


def _table(starts: list[float], ends: list[float], success: list[bool] | None = None) -> RequestTable:
    """One streaming request per (start, end): points [start, midpoint, end], 10 in / 5 out tokens."""
    points = [[s, (s + e) / 2, e] for s, e in zip(starts, ends, strict=True)]
    flags = success if success is not None else [True] * len(starts)
    return RequestTable.from_columns(points, flags, [10] * len(starts), [5] * len(starts))


# --- the three oracles of the behaviour spec §6.2 (batch_size 2) -------------------------------


def test_oracle_one() -> None:
    starts, ends = [1.0, 2.0, 4.0, 6.0], [3.5, 5.5, 7.0, 9.0]
    assert find_stable_window(np.array(starts), np.array(ends), 2) == (4.0, 6.0)
    table = _table(starts, ends)
    selection = select_stable_stage(table, compute_per_request(table, True), 2)
    assert selection.requests.row_index.tolist() == [2, 3]
    assert selection.duration_s == 2.0


def test_oracle_two() -> None:
    starts, ends = [1.0, 2.0, 3.5, 5.0, 8.0], [3.0, 4.0, 6.0, 7.0, 9.0]
    assert find_stable_window(np.array(starts), np.array(ends), 2) == (3.5, 5.0)
    table = _table(starts, ends)
    selection = select_stable_stage(table, compute_per_request(table, True), 2)
    assert selection.requests.row_index.tolist() == [2, 3]
    assert selection.duration_s == 1.5


def test_oracle_three_has_no_steady_stage() -> None:
    with pytest.raises(NoSteadyStage) as caught:
        find_stable_window(np.array([1.0, 2.0]), np.array([3.0, 4.0]), 2)
    assert "only one request start" in caught.value.message
    assert caught.value.hint and "--pressure" in caught.value.hint


def test_never_reaching_batch_size_says_the_peak() -> None:
    with pytest.raises(NoSteadyStage) as caught:
        find_stable_window(np.array([1.0, 2.0, 3.0]), np.array([1.5, 2.5, 3.5]), 4)
    assert "at most 1 requests" in caught.value.message and "batch_size=4" in caught.value.message
    assert caught.value.hint and "lower batch_size" in caught.value.hint


def test_zero_length_window_is_no_steady_stage() -> None:
    # batch_size 1, back to back: every start reaches 1; t2 = second start = 2.0, the last event at
    # 1 is also the start at 2.0 -> t4 == t2.
    with pytest.raises(NoSteadyStage) as caught:
        find_stable_window(np.array([1.0, 2.0]), np.array([1.5, 3.0]), 1)
    assert "zero length" in caught.value.message


def test_ties_resolve_by_request_position() -> None:
    # request 0 ends at 3.0 exactly when request 2 starts; built as (s0, e0, s1, e1, s2, e2, ...) and
    # stably sorted, e0 comes before s2: counts s0 1, s1 2 (first start at max), e0 1, s2 2 (second
    # start at max -> t2 = 3.0), s3 3, e1 2 (last event at max -> t4 = 5.0), e2 1, e3 0.
    starts, ends = np.array([1.0, 2.0, 3.0, 4.0]), np.array([3.0, 5.0, 6.0, 7.0])
    assert find_stable_window(starts, ends, 2) == (3.0, 5.0)


def test_failed_requests_in_the_window_are_counted() -> None:
    starts, ends = [1.0, 2.0, 4.0, 6.0], [3.5, 5.5, 7.0, 9.0]
    points = [[s, (s + e) / 2, e] for s, e in zip(starts, ends, strict=True)]
    # failed: sent at 5.0 (in the window), sent at 0.5 (before it), never sent (NaN),
    # and a "successful" one with one point sent at 6.0 (in the window, counts as failed)
    points += [[5.0], [0.5], [], [6.0]]
    table = RequestTable.from_columns(
        points, [True] * 4 + [False, False, False, True], [10] * 8, [5] * 8,
        start_s=[*starts, 5.0, 0.5, math.nan, 6.0], end_s=[*ends, 5.2, 0.6, math.nan, 6.0],
    )  # fmt: skip
    selection = select_stable_stage(table, compute_per_request(table, True), 2)
    assert selection.success_requests == 2
    assert selection.total_requests == 4 and selection.failed_requests == 2
    window = selection.window
    assert window is not None
    # first send is the failed request at 0.5; the last end is 9.0 -> run duration 8.5 s
    assert (window.start_rel_s, window.end_rel_s, window.duration_s) == (3.5, 5.5, 2.0)
    assert window.run_duration_s == 8.5 and window.share == pytest.approx(2.0 / 8.5)
    assert (window.requests, window.success_requests, window.failed_requests) == (4, 2, 2)
    # largest E2EL in the window: 3.0 s > 2.0 / 3 -> warning
    assert window.max_e2el_s == 3.0 and not window.reliable
    assert len(selection.warnings) == 1 and "run longer" in selection.warnings[0]


def test_total_stage() -> None:
    table = _table([1.0, 2.0, 4.0], [3.5, 5.5, 7.0], success=[True, False, True])
    selection = select_total_stage(table, compute_per_request(table, True))
    # D = max(end) - min(start) over successful requests = 7.0 - 1.0
    assert selection.duration_s == 6.0
    assert (selection.total_requests, selection.success_requests, selection.failed_requests) == (3, 2, 1)
    assert selection.window is None


# --- properties ---------------------------------------------------------------------------------


@st.composite
def distinct_schedules(draw: st.DrawFn) -> tuple[list[float], list[float], list[bool], int]:
    """Requests with pairwise distinct start/end times (integer ms), random success flags."""
    n = draw(st.integers(1, 30))
    times = draw(st.lists(st.integers(0, 100_000), min_size=2 * n, max_size=2 * n, unique=True))
    starts = [min(times[2 * i], times[2 * i + 1]) / 1000 for i in range(n)]
    ends = [max(times[2 * i], times[2 * i + 1]) / 1000 for i in range(n)]
    success = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    return starts, ends, success, draw(st.integers(1, 6))


@settings(max_examples=400, deadline=None)
@given(schedule=distinct_schedules())
def test_stable_window_properties(schedule: tuple[list[float], list[float], list[bool], int]) -> None:
    starts, ends, success, batch_size = schedule
    table = _table(starts, ends, success)
    requests = compute_per_request(table, True)
    try:
        selection = select_stable_stage(table, requests, batch_size)
    except NoSteadyStage:
        return
    window = selection.window
    assert window is not None
    t2, t4 = window.start_s, window.end_s
    assert selection.duration_s == t4 - t2 > 0
    ok = [i for i in range(len(starts)) if success[i]]
    # every steady request starts in [t2, t4], and no successful request outside it is counted
    assert selection.requests.row_index.tolist() == [i for i in ok if t2 <= starts[i] <= t4]
    # in flight just after t2 (times are distinct) equals batch_size
    assert sum(1 for i in ok if starts[i] <= t2 < ends[i]) == batch_size
    # t2 is a start time of a successful request; failed requests count only inside the window
    assert t2 in [starts[i] for i in ok]
    failed_in = sum(1 for i in range(len(starts)) if not success[i] and t2 <= starts[i] <= t4)
    assert selection.failed_requests == failed_in


@settings(max_examples=150, deadline=None)
@given(rows=request_rows(), batch_size=st.integers(1, 5))
def test_stable_window_matches_reference(
    rows: list[tuple[list[float], bool, int, int]], batch_size: int
) -> None:
    table = table_from_rows(rows)
    ref_requests = ref_per_request(
        RefTable([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows]), True
    )
    expected = ref_stable_window(ref_requests, batch_size)
    requests = compute_per_request(table, True)
    if expected is None:
        with pytest.raises(NoSteadyStage):
            select_stable_stage(table, requests, batch_size)
        return
    selection = select_stable_stage(table, requests, batch_size)
    assert (selection.window.start_s, selection.window.end_s) == expected  # type: ignore[union-attr]
    t2, t4 = expected
    assert selection.requests.row_index.tolist() == [r.row for r in ref_requests if t2 <= r.start <= t4]
