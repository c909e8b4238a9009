"""Clock offsets between the driver and a node: NTP-style estimate, its bound, before/after
combination, and record batches moved onto the driver's clock with durations unchanged."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ais_bench.distributed.clock import (
    OFFSET_GRID_S,
    ClockOffset,
    PingSample,
    combine,
    estimate_offset,
    ping_samples,
    shift_batch,
)
from ais_bench.metrics.per_request import compute_per_request
from ais_bench.records.record import RequestRecord, RequestTable
from ais_bench.records.store import ROW_DTYPE, RecordWriter
from tests.support.examples import examples

# ---------------------------------------------------------------- worked examples, by hand


def test_offset_is_node_minus_midpoint_of_the_fastest_ping():
    samples = [
        PingSample(100.0, 600.010, 100.040),  # round trip 40 ms, midpoint 100.020: offset 499.990
        PingSample(101.0, 601.002, 101.004),  # round trip 4 ms, midpoint 101.002: offset 500.000
        PingSample(102.0, 602.030, 102.050),  # round trip 50 ms
    ]
    estimate = estimate_offset(samples)
    assert estimate.offset_s == pytest.approx(500.0, abs=OFFSET_GRID_S)
    assert estimate.uncertainty_s == pytest.approx(0.002, abs=1e-9)  # half of 4 ms
    assert estimate.samples == 3
    assert estimate.round_trip_min_s == pytest.approx(0.004)
    assert estimate.round_trip_max_s == pytest.approx(0.050)
    assert estimate.drift_s == 0.0


def test_offset_is_rounded_to_the_grid_and_the_rounding_is_in_the_uncertainty():
    estimate = estimate_offset([PingSample(10.0, 10.0000001, 10.0)])  # a zero round trip
    assert estimate.offset_s / OFFSET_GRID_S == round(estimate.offset_s / OFFSET_GRID_S)
    assert abs(estimate.offset_s - 1e-7) <= estimate.uncertainty_s <= OFFSET_GRID_S


def test_combine_covers_both_estimates_and_reports_the_drift():
    before = ClockOffset(offset_s=5.000, uncertainty_s=0.001, samples=20, round_trip_min_s=0.002, round_trip_max_s=0.01)
    after = ClockOffset(offset_s=5.004, uncertainty_s=0.002, samples=10, round_trip_min_s=0.004, round_trip_max_s=0.03)
    run = combine(before, after)
    # union of [4.999, 5.001] and [5.002, 5.006] is [4.999, 5.006]: middle 5.0025, half width 0.0035
    assert run.offset_s == pytest.approx(5.0025, abs=OFFSET_GRID_S)
    assert run.uncertainty_s == pytest.approx(0.0035, abs=1e-7)
    assert run.drift_s == pytest.approx(0.004)
    assert run.samples == 30
    assert (run.round_trip_min_s, run.round_trip_max_s) == (0.002, 0.03)


def test_combine_without_drift_keeps_the_wider_uncertainty():
    before = ClockOffset(-3.0, 0.001, 5, 0.002, 0.002)
    after = ClockOffset(-3.0, 0.0005, 5, 0.001, 0.001)
    run = combine(before, after)
    assert run.offset_s == -3.0 and run.drift_s == 0.0
    assert run.uncertainty_s == pytest.approx(0.001, abs=1e-9)


def test_combine_keeps_an_offset_already_applied_and_bounds_its_error():
    before = ClockOffset(offset_s=5.000, uncertainty_s=0.001, samples=20, round_trip_min_s=0.002, round_trip_max_s=0.01)
    after = ClockOffset(offset_s=5.004, uncertainty_s=0.002, samples=10, round_trip_min_s=0.004, round_trip_max_s=0.03)
    run = combine(before, after, applied_s=before.offset_s)
    # stamps shifted by 5.000 while the truth may be anywhere in [4.999, 5.006]: off by up to 6 ms
    assert run.offset_s == 5.0
    assert run.uncertainty_s == pytest.approx(0.006, abs=1e-9)
    assert run.drift_s == pytest.approx(0.004) and run.samples == 30
    assert combine(before, after).uncertainty_s < run.uncertainty_s  # the middle is known better


def test_estimate_refuses_no_samples_and_backwards_round_trips():
    with pytest.raises(ValueError, match="at least one"):
        estimate_offset([])
    with pytest.raises(ValueError, match="before"):
        estimate_offset([PingSample(2.0, 5.0, 1.0)])


# ---------------------------------------------------------------- properties

#: perf_counter readings of a host: from just after boot to about 11 days up.
clock_readings = st.floats(min_value=0.0, max_value=1e6, allow_nan=False)
offsets = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
#: one-way delays, up to a second, as unequal as they like
delays = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@st.composite
def pings(draw: st.DrawFn, true_offset_s: float) -> tuple[PingSample, Fraction]:
    """A ping whose node read its clock ``forward`` after the send and ``back`` before the reply;
    returns it and the exact driver time of the node's read."""
    send_s = draw(clock_readings)
    forward, back = draw(delays), draw(delays)
    read_at = Fraction(send_s) + Fraction(forward)
    recv_s = float(read_at + Fraction(back))
    read_at = min(read_at, Fraction(recv_s))  # the reply cannot be read before the node answered
    node_s = float(read_at + Fraction(true_offset_s))  # the node's clock, read to float precision
    return PingSample(send_s, node_s, recv_s), read_at


def _true_offset_error(estimate: ClockOffset, sample: PingSample, read_at: Fraction, truth: float) -> Fraction:
    """How far the estimate is from the offset the node's reading actually had."""
    reading_offset = Fraction(sample.node_s) - read_at  # truth, up to the node reading's rounding
    assert abs(reading_offset - Fraction(truth)) <= Fraction(math.ulp(abs(sample.node_s) + 1.0))
    return abs(Fraction(estimate.offset_s) - Fraction(truth))


@settings(max_examples=examples(300), deadline=None)
@given(data=st.data(), truth=offsets, count=st.integers(min_value=1, max_value=8))
def test_the_truth_is_within_the_uncertainty_whatever_the_asymmetry(data: st.DataObject, truth: float, count: int):
    drawn = [data.draw(pings(truth)) for _ in range(count)]
    estimate = estimate_offset([sample for sample, _ in drawn])
    worst = max(_true_offset_error(estimate, sample, read_at, truth) for sample, read_at in drawn)
    reading_rounding = max(math.ulp(abs(sample.node_s) + 1.0) for sample, _ in drawn)
    assert worst <= Fraction(estimate.uncertainty_s) + Fraction(reading_rounding)


@settings(max_examples=examples(200), deadline=None)
@given(data=st.data(), truth=offsets, first=st.integers(min_value=1, max_value=6), more=st.integers(1, 6))
def test_more_samples_never_widen_the_uncertainty(data: st.DataObject, truth: float, first: int, more: int):
    samples = [data.draw(pings(truth))[0] for _ in range(first + more)]
    assert estimate_offset(samples).uncertainty_s <= estimate_offset(samples[:first]).uncertainty_s


@settings(max_examples=examples(200), deadline=None)
@given(data=st.data(), truth_before=offsets, drift=st.floats(min_value=-0.1, max_value=0.1))
def test_combined_uncertainty_covers_every_offset_between_before_and_after(
    data: st.DataObject, truth_before: float, drift: float
):
    truth_after = truth_before + drift
    before = estimate_offset([data.draw(pings(truth_before))[0] for _ in range(3)])
    after = estimate_offset([data.draw(pings(truth_after))[0] for _ in range(3)])
    run = combine(before, after)
    rounding = Fraction(math.ulp(abs(truth_before) + abs(drift) + 2e6))
    for share in (0.0, 0.25, 0.5, 1.0):  # a steady drift passes every offset in between
        during = Fraction(truth_before) + Fraction(share) * (Fraction(truth_after) - Fraction(truth_before))
        assert abs(Fraction(run.offset_s) - during) <= Fraction(run.uncertainty_s) + 2 * rounding
    assert run.uncertainty_s >= max(before.uncertainty_s, after.uncertainty_s)
    applied = combine(before, after, applied_s=before.offset_s)
    assert applied.offset_s == before.offset_s
    for share in (0.0, 0.5, 1.0):
        during = Fraction(truth_before) + Fraction(share) * (Fraction(truth_after) - Fraction(truth_before))
        assert abs(Fraction(applied.offset_s) - during) <= Fraction(applied.uncertainty_s) + 2 * rounding


# ---------------------------------------------------------------- ping_samples


def test_ping_samples_reads_the_clock_around_each_ping():
    ticks = iter([1.0, 1.5, 2.0, 2.25])
    node_readings = iter([100.2, 101.1])
    samples = ping_samples(lambda: next(node_readings), 2, clock=lambda: next(ticks))
    assert samples == [PingSample(1.0, 100.2, 1.5), PingSample(2.0, 101.1, 2.25)]
    with pytest.raises(ValueError, match="count"):
        ping_samples(lambda: 0.0, 0)


# ---------------------------------------------------------------- shift_batch


def _written_batch(tmp_path: Path, records: list[RequestRecord]) -> tuple[np.ndarray, np.ndarray]:
    """The rows and time points a worker's ``RecordWriter`` hands on for one flush."""
    batches: list[tuple[np.ndarray, np.ndarray]] = []
    with RecordWriter(tmp_path / "ds.worker0.jsonl", on_written=lambda r, p: batches.append((r, p))) as writer:
        for record in records:
            writer.append(record)
    ((rows, points),) = batches
    return rows, points


def _stream_record(request_id: int, points: list[float], scheduled_s: float | None) -> RequestRecord:
    return RequestRecord(
        request_id=request_id, data_index=request_id, data_abbr="ds", worker_id=0, success=True,
        start_s=points[0], end_s=points[-1] + 0.0003, time_points_s=points, usage_input_tokens=10,
        usage_output_tokens=len(points) - 1, content_events=len(points) - 1, scheduled_s=scheduled_s,
        slot_wait_s=None if scheduled_s is None else 0.000125,
    )


def _table(rows: np.ndarray, points: np.ndarray) -> RequestTable:
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(rows["tp_count"], out=offsets[1:])
    return RequestTable(
        start_s=rows["start_s"], end_s=rows["end_s"], success=rows["success"].astype(bool),
        input_tokens=rows["usage_input_tokens"], output_tokens=rows["usage_output_tokens"],
        offsets=offsets, time_points_s=points, slot_wait_s=rows["slot_wait_s"],
    )


#: Stamps of a node up about 4 days (perf_counter near 350 000 s), a few odd fractions.
NODE_RECORDS = [
    _stream_record(0, [350_123.456789012, 350_123.501234567, 350_123.523456789, 350_123.587654321], 350_123.4566),
    _stream_record(1, [350_124.000000001, 350_124.333333333, 350_124.666666667], None),
    _stream_record(2, [350_125.1, 350_125.2], 350_125.0999),
]


@pytest.mark.parametrize("offset_s", [
    349_000.0 + 1234 * OFFSET_GRID_S,  # the driver booted later: its clock reads ~1 123 s
    350_123.0,  # stamps moved to about a run's start
    0.25 + 3 * OFFSET_GRID_S,  # a clock a quarter second ahead
    -(2**-20),  # a clock slightly behind, stamps stay in their binade
])
def test_shifted_batch_has_the_same_durations_bit_for_bit(tmp_path: Path, offset_s: float):
    rows, points = _written_batch(tmp_path, NODE_RECORDS)
    shifted_rows, shifted_points = shift_batch(rows, points, offset_s)
    before, after = compute_per_request(_table(rows, points), True), compute_per_request(
        _table(shifted_rows, shifted_points), True
    )
    for name in ("e2el_s", "ttft_s", "tpot_s", "itl_s"):
        assert np.array_equal(getattr(before, name), getattr(after, name)), name
    assert np.array_equal(shifted_rows["slot_wait_s"], rows["slot_wait_s"], equal_nan=True)


def test_shifted_batch_moves_every_stamp_by_the_offset_and_nothing_else(tmp_path: Path):
    rows, points = _written_batch(tmp_path, NODE_RECORDS)
    offset_s = 350_000.0
    shifted_rows, shifted_points = shift_batch(rows, points, offset_s)
    assert shifted_points.tolist() == pytest.approx([p - offset_s for p in points.tolist()], abs=1e-9)
    for name in ("start_s", "end_s", "scheduled_s"):
        assert np.allclose(shifted_rows[name], rows[name] - offset_s, atol=1e-9, equal_nan=True), name
    assert np.isnan(shifted_rows["scheduled_s"][1])  # not paced: stays NaN
    assert shifted_rows["start_s"][0] == pytest.approx(123.456789012, abs=1e-9)
    untouched = [name for name in ROW_DTYPE.names or () if name not in ("start_s", "end_s", "scheduled_s")]
    for name in untouched:
        assert np.array_equal(shifted_rows[name], rows[name], equal_nan=True), name
    assert not rows.flags.writeable  # the writer's batch itself is left as it was (a read-only view)


@settings(max_examples=examples(200), deadline=None)
@given(
    start=st.floats(min_value=1.0, max_value=1e6),
    gaps=st.lists(st.floats(min_value=0.0, max_value=5.0), min_size=1, max_size=6),
    offset=st.floats(min_value=-1e6, max_value=1e6),
)
def test_shifted_durations_are_within_a_rounding_of_the_original(start: float, gaps: list[float], offset: float):
    """Any shift: a shifted stamp rounds at most half an ulp of its new magnitude, so a duration
    moves by at most one ulp of the larger of the two (a nanosecond at 10^6 s)."""
    points = np.cumsum([start, *gaps])
    rows = np.zeros(1, dtype=ROW_DTYPE)
    rows["start_s"], rows["end_s"], rows["tp_count"], rows["success"] = points[0], points[-1], len(points), 1
    rows["usage_output_tokens"] = len(points) - 1
    grid_offset = round(offset / OFFSET_GRID_S) * OFFSET_GRID_S
    shifted_rows, shifted_points = shift_batch(rows, points, grid_offset)
    tolerance = math.ulp(max(abs(points[-1]), abs(shifted_points).max()))
    assert np.abs(np.diff(shifted_points) - np.diff(points)).max() <= tolerance
    shifted_e2el = shifted_rows["end_s"] - shifted_rows["start_s"]
    assert abs(shifted_e2el - (rows["end_s"] - rows["start_s"]))[0] <= tolerance
    if abs(shifted_points).max() <= points[0]:  # shifted down: exact
        assert np.array_equal(np.diff(shifted_points), np.diff(points))
        assert np.array_equal(shifted_e2el, rows["end_s"] - rows["start_s"])
