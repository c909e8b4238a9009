"""Clock offsets between the driver and a load node, estimated NTP-style, and stamps moved onto the
driver's clock.

Every stamp a worker writes is its own host's ``time.perf_counter()`` (``records/record.py``).
Durations (TTFT, ITL, E2EL) are differences of stamps of one host and need nothing here; only the
run's timeline (the steady window, concurrency, throughput over time) puts stamps of several hosts
side by side, and so needs them on one clock: the driver's.

The driver pings a node: it reads its clock (``driver_send_s``), asks the node for its clock
(``node_s``) and reads its own again (``driver_recv_s``). The node read its clock at some driver
time ``t`` between the two reads, so the true offset ``node - driver`` lies in
``[node_s - driver_recv_s, node_s - driver_send_s]``: the estimate ``node_s - midpoint`` is off by
at most half the round trip, however unequal the two directions' delays. The sample with the
smallest round trip gives the tightest bound; more samples can only tighten it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

#: Offsets are rounded to a multiple of this many seconds (2^-24 s, about 60 ns: far below any round
#: trip between processes). A stamp shifted by such an offset is exact in float64 whenever the shifted
#: value is not larger in magnitude than the stamp (see ``shift_batch``), so durations stay equal bit
#: for bit.
OFFSET_GRID_S = 2.0**-24

#: The fields of a record row (``records.store.ROW_DTYPE``) that are perf_counter stamps of the
#: worker's host; the other time field, ``slot_wait_s``, is a duration.
ROW_STAMP_FIELDS = ("start_s", "end_s", "scheduled_s")


@dataclass(frozen=True)
class PingSample:
    """One ping: the driver's clock before and after asking, and the node's clock in between (all
    perf_counter seconds of their own host)."""

    driver_send_s: float
    node_s: float
    driver_recv_s: float

    @property
    def round_trip_s(self) -> float:
        return self.driver_recv_s - self.driver_send_s

    @property
    def offset_s(self) -> float:
        """This sample's estimate of ``node clock - driver clock``."""
        return self.node_s - (self.driver_send_s + self.driver_recv_s) / 2


@dataclass(frozen=True)
class ClockOffset:
    """A node's clock relative to the driver's: ``driver time = node time - offset_s``.

    ``uncertainty_s``: the true offset lies within ``offset_s ± uncertainty_s`` (half the smallest
    round trip, plus float rounding and the rounding to ``OFFSET_GRID_S``; for a combined estimate,
    widened to cover the offsets before and after the run). ``samples``: pings used;
    ``round_trip_min_s`` / ``round_trip_max_s``: the spread of their round trips; ``drift_s``: the
    offset after the run minus the offset before it (0 for a single estimate).
    """

    offset_s: float
    uncertainty_s: float
    samples: int
    round_trip_min_s: float
    round_trip_max_s: float
    drift_s: float = 0.0

    @property
    def low_s(self) -> float:
        return self.offset_s - self.uncertainty_s

    @property
    def high_s(self) -> float:
        return self.offset_s + self.uncertainty_s


def estimate_offset(samples: Sequence[PingSample]) -> ClockOffset:
    """The offset of the sample with the smallest round trip, known to half that round trip.

    Strictly, the sample with the smallest bound (half its round trip plus its float rounding and
    the rounding to the grid): the same sample but for ties within a few ulps, and what makes a
    further sample never widen the result, bit for bit."""
    if not samples:
        raise ValueError("estimate_offset needs at least one ping sample")
    trips = [sample.round_trip_s for sample in samples]
    if min(trips) < 0:
        raise ValueError("a ping sample's driver_recv_s is before its driver_send_s")
    offset_s, uncertainty_s = min((_bounded_offset(sample) for sample in samples), key=lambda pair: pair[1])
    return ClockOffset(offset_s, uncertainty_s, len(samples), min(trips), max(trips))


def _bounded_offset(sample: PingSample) -> tuple[float, float]:
    """One sample's offset on the grid and the bound of its error (s)."""
    raw_s = sample.offset_s
    offset_s = _on_grid(raw_s)
    rounding_s = _rounding_allowance_s(sample.driver_send_s, sample.node_s, sample.driver_recv_s, raw_s)
    return offset_s, sample.round_trip_s / 2 + abs(offset_s - raw_s) + rounding_s


def combine(before: ClockOffset, after: ClockOffset, applied_s: float | None = None) -> ClockOffset:
    """One offset for the whole run from estimates taken before and after it.

    A clock that drifts steadily has, during the run, an offset between its offsets before and
    after, so the true offset lies in the union of the two intervals: the result is that union's
    middle, its uncertainty half its width (at least each estimate's own, more by up to half the
    drift). ``drift_s`` is ``after.offset_s - before.offset_s``.

    ``applied_s``: the offset the run's stamps were already shifted by (records streamed during the
    run can only use the estimate taken before it); the result then keeps that offset and its
    uncertainty is the farthest end of the union from it, the error the shifted stamps may carry.
    """
    low_s = min(before.low_s, after.low_s)
    high_s = max(before.high_s, after.high_s)
    rounding_s = _rounding_allowance_s(low_s, high_s)
    if applied_s is None:
        middle_s = (low_s + high_s) / 2
        offset_s = _on_grid(middle_s)
        uncertainty_s = (high_s - low_s) / 2 + abs(offset_s - middle_s) + rounding_s
    else:
        offset_s = applied_s
        uncertainty_s = max(high_s - applied_s, applied_s - low_s, 0.0) + rounding_s
    return ClockOffset(
        offset_s,
        uncertainty_s,
        before.samples + after.samples,
        min(before.round_trip_min_s, after.round_trip_min_s),
        max(before.round_trip_max_s, after.round_trip_max_s),
        after.offset_s - before.offset_s,
    )


def ping_samples(
    ping: Callable[[], float], count: int, clock: Callable[[], float] = time.perf_counter
) -> list[PingSample]:
    """``count`` pings: each reads ``clock`` (the driver's), calls ``ping()`` (which returns the
    node's ``perf_counter()``) and reads ``clock`` again."""
    if count < 1:
        raise ValueError(f"ping_samples needs count >= 1, got {count}")
    samples = []
    for _ in range(count):
        send_s = clock()
        node_s = ping()
        samples.append(PingSample(send_s, node_s, clock()))
    return samples


def shift_batch(rows: np.ndarray, points_s: np.ndarray, offset_s: float) -> tuple[np.ndarray, np.ndarray]:
    """A node's record batch moved onto the driver's clock: copies of ``rows`` (``ROW_DTYPE``) and
    ``points_s`` (float64 time points) with every stamp minus ``offset_s`` (a ``ClockOffset``'s).

    Durations stay the same: with an offset on ``OFFSET_GRID_S`` each shifted stamp is exact when it
    is not larger in magnitude than the original (a node whose clock reads ahead of the driver's, or
    stamps moved to a run's start), so differences are equal bit for bit; a stamp shifted to a larger
    magnitude rounds to float64 there (under a nanosecond for clocks below 10^6 s). NaN (no planned
    send) stays NaN.
    """
    shifted_rows = rows.copy()
    for name in ROW_STAMP_FIELDS:
        shifted_rows[name] -= offset_s
    return shifted_rows, points_s - offset_s


def _on_grid(value_s: float) -> float:
    return round(value_s / OFFSET_GRID_S) * OFFSET_GRID_S


def _rounding_allowance_s(*values_s: float) -> float:
    """An upper bound on the float64 rounding of a few additions of values this large."""
    largest = max(abs(value) for value in values_s)
    return 4 * math.ulp(largest) if largest > 0 else 0.0
