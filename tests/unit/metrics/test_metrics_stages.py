from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from metrics_helpers import request_rows, table_from_rows
from metrics_reference import RefTable, ref_per_request, ref_stable_window, ref_window_work

from ais_bench.errors import NoSteadyStage
from ais_bench.metrics.per_request import compute_per_request
from ais_bench.metrics.stable_stage import find_stable_window, select_stable_stage
from ais_bench.metrics.total_stage import select_total_stage
from ais_bench.records.record import RequestTable
from tests.support.examples import examples


def _table(starts: list[float], ends: list[float], success: list[bool] | None = None) -> RequestTable:
    """One streaming request per (start, end): points [start, midpoint, end], 10 in / 5 out tokens."""
    points = [[s, (s + e) / 2, e] for s, e in zip(starts, ends, strict=True)]
    flags = success if success is not None else [True] * len(starts)
    return RequestTable.from_columns(points, flags, [10] * len(starts), [5] * len(starts))


# --- the three oracles of the behaviour spec §6.2 (batch_size 2) -------------------------------
# t2 is the original's; t4 is the moment the count *left* batch_size after its last visit (the
# original's t4 is the last moment it *reached* it: 6.0 and 5.0 below).


def test_oracle_one() -> None:
    starts, ends = [1.0, 2.0, 4.0, 6.0], [3.5, 5.5, 7.0, 9.0]
    # counts: s0 1, s1 2 (ramp), e0 1, s2 2 (t2 = 4), e1 1, s3 2 (last at 2), e2 1 (t4 = 7), e3 0
    assert find_stable_window(np.array(starts), np.array(ends), 2) == (4.0, 7.0)
    table = _table(starts, ends)
    selection = select_stable_stage(table, compute_per_request(table, True), 2)
    assert selection.requests.row_index.tolist() == [2, 3]
    assert selection.duration_s == 3.0


def test_oracle_two() -> None:
    starts, ends = [1.0, 2.0, 3.5, 5.0, 8.0], [3.0, 4.0, 6.0, 7.0, 9.0]
    assert find_stable_window(np.array(starts), np.array(ends), 2) == (3.5, 6.0)
    table = _table(starts, ends)
    selection = select_stable_stage(table, compute_per_request(table, True), 2)
    assert selection.requests.row_index.tolist() == [2, 3]
    assert selection.duration_s == 2.5


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


def test_window_shorter_than_half_the_median_request_is_no_steady_stage() -> None:
    # batch_size 2, requests of 1 s: s0 0 (1), s1 0.5 (2, ramp), e0 1.0 (1), s2 1.1 (2, t2 = 1.1),
    # e1 1.5 (1, t4 = 1.5): a 0.4 s window, under half the median E2EL (0.5 s)
    with pytest.raises(NoSteadyStage) as caught:
        find_stable_window(np.array([0.0, 0.5, 1.1]), np.array([1.0, 1.5, 2.1]), 2)
    assert "400.000 ms long, shorter than half the median request (1000.0 ms)" in caught.value.message
    assert caught.value.hint and "--pressure" in caught.value.hint
    # the first request ends at 0.8 s and the third is sent at 0.9 s: [0.9, 1.5) is 0.6 s, accepted
    assert find_stable_window(np.array([0.0, 0.5, 0.9]), np.array([0.8, 1.5, 1.9]), 2) == (0.9, 1.5)


def test_back_to_back_at_batch_size_one_has_a_window() -> None:
    # the original's t4 (last moment the count reached 1) is the start at 2.0 = t2: no window; the
    # count leaves 1 at 3.0, so the window is [2, 3) and holds the second request whole.
    starts, ends = np.array([1.0, 2.0]), np.array([1.5, 3.0])
    assert find_stable_window(starts, ends, 1) == (2.0, 3.0)
    table = _table([1.0, 2.0], [1.5, 3.0])
    selection = select_stable_stage(table, compute_per_request(table, True), 1)
    assert selection.requests.row_index.tolist() == [1] and selection.work.requests == 1.0


def test_exact_ties_are_netted() -> None:
    # request 0 ends at 3.0 exactly when request 2 starts: one moment, count 2 -> t2 = 3.0;
    # s3 3, e1 2 (last at batch_size), e2 1 at 6.0 -> t4 = 6.0
    starts, ends = np.array([1.0, 2.0, 3.0, 4.0]), np.array([3.0, 5.0, 6.0, 7.0])
    assert find_stable_window(starts, ends, 2) == (3.0, 6.0)
    assert find_stable_window(starts[::-1].copy(), ends[::-1].copy(), 2) == (3.0, 6.0)


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
    # window [4, 7); first send is the failed request at 0.5; the last end is 9.0 -> run 8.5 s
    assert (window.start_rel_s, window.end_rel_s, window.duration_s) == (3.5, 6.5, 3.0)
    assert window.run_duration_s == 8.5 and window.share == pytest.approx(3.0 / 8.5)
    assert (window.requests, window.success_requests, window.failed_requests) == (4, 2, 2)
    # largest E2EL in the window: 3.0 s > 3.0 / 3 -> "short" warning; at batch_size 2.5 of 3 s
    assert window.max_e2el_s == 3.0 and not window.reliable
    assert len(selection.warnings) == 2 and "run longer" in selection.warnings[0]
    assert "in flight only 83% of its time" in selection.warnings[1]
    assert window.warnings == tuple(selection.warnings)


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


@settings(max_examples=examples(400), deadline=None)
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
    ok = [i for i in range(len(starts)) if success[i]]
    median_e2el = float(np.median([ends[i] - starts[i] for i in ok]))
    assert selection.duration_s == t4 - t2 >= median_e2el / 2 > 0
    # every steady request starts in [t2, t4), and no successful request outside it is counted
    assert selection.requests.row_index.tolist() == [i for i in ok if t2 <= starts[i] < t4]
    # both edges are times of events of successful requests
    events = {starts[i] for i in ok} | {ends[i] for i in ok}
    assert t2 in events and t4 in events
    failed_in = sum(1 for i in range(len(starts)) if not success[i] and t2 <= starts[i] < t4)
    assert selection.failed_requests == failed_in
    # the rates count each request by its share inside the window: never more than started + in flight
    in_flight_at_t2 = sum(1 for i in ok if starts[i] < t2 < ends[i])
    assert 0 < selection.work.requests <= len(selection.requests) + in_flight_at_t2 + 1e-9
    assert 0 <= window.at_batch_size_share <= 1 and window.peak_in_flight >= batch_size


@settings(max_examples=examples(150), deadline=None)
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
    assert selection.requests.row_index.tolist() == [r.row for r in ref_requests if t2 <= r.start < t4]
    work = ref_window_work(ref_requests, t2, t4)
    assert selection.work.requests == pytest.approx(work, rel=1e-9, abs=1e-9)


def test_a_request_lasts_to_its_end_not_its_last_token_event() -> None:
    """metrics.md: D, the in-flight count and the steady shares run to ``end`` (a usage-only chunk or
    ``[DONE]`` read 0.5 s after the last token event), as E2EL does."""
    starts, last_tokens = [1.0, 2.0, 4.0, 6.0], [3.0, 5.0, 6.5, 8.5]
    ends = [t + 0.5 for t in last_tokens]  # oracle one's ends: 3.5, 5.5, 7.0, 9.0
    points = [[s, (s + t) / 2, t] for s, t in zip(starts, last_tokens, strict=True)]
    table = RequestTable.from_columns(points, [True] * 4, [10] * 4, [5] * 4, end_s=ends)
    per_request = compute_per_request(table, True)
    assert per_request.e2el_s.tolist() == [2.5, 3.5, 3.0, 3.0]
    assert select_total_stage(table, per_request).duration_s == 8.0  # 9.0 - 1.0, not 8.5 - 1.0
    stable = select_stable_stage(table, per_request, 2)
    # oracle one's window [4, 7) (with the last token events it would be [4, 6.5))
    assert (stable.window.start_s, stable.window.end_s) == (4.0, 7.0)  # type: ignore[union-attr]
    # shares inside [4, 7) of [start, end]: 0, 1.5/3.5, 3/3, 1/3; busy = 1.5 + 3 + 1
    assert stable.work.requests == pytest.approx(1.5 / 3.5 + 1 + 1 / 3)
    assert stable.work.busy_s == pytest.approx(5.5)
