"""The number of requests in flight over time, and how steady it was inside a window.

Built from the successful requests' send ``tp[0]`` and last event ``tp[-1]`` (perf_counter seconds).
A request is in flight on ``[start, end)``; events at exactly the same time are netted, so the order
in which simultaneous ends and starts were listed never matters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class InFlightSteps:
    """A step function: ``count[k]`` requests are in flight on ``[times[k], times[k + 1])``.

    ``times`` are the distinct event times in ascending order; before ``times[0]`` nothing is in flight.
    """

    times: np.ndarray  # float64 (k,)
    count: np.ndarray  # int64 (k,)

    def segments(self, lo_s: float, hi_s: float) -> tuple[np.ndarray, np.ndarray]:
        """(durations, counts) of the steps inside ``[lo_s, hi_s)``, each of positive length."""
        if not hi_s > lo_s:
            return np.zeros(0), np.zeros(0, dtype=np.int64)
        first = int(np.searchsorted(self.times, lo_s, side="right")) - 1
        inner = (self.times > lo_s) & (self.times < hi_s)
        edges = np.concatenate([[lo_s], self.times[inner], [hi_s]])
        count_at_lo = int(self.count[first]) if first >= 0 else 0
        counts = np.concatenate([[count_at_lo], self.count[inner]]).astype(np.int64)
        return np.diff(edges), counts


@dataclass(frozen=True, slots=True)
class Events:
    """Every start (+1) and end (-1) of the requests, sorted by time (ties in any order)."""

    times: np.ndarray  # float64 (2m,)
    delta: np.ndarray  # int64 (2m,), +1 or -1

    @classmethod
    def of(cls, start_s: np.ndarray, end_s: np.ndarray) -> Events:
        times = np.concatenate([np.asarray(start_s, dtype=np.float64), np.asarray(end_s, dtype=np.float64)])
        delta = np.concatenate([np.ones(len(start_s), dtype=np.int64), -np.ones(len(end_s), dtype=np.int64)])
        order = np.argsort(times, kind="stable")
        return cls(times[order], delta[order])


def build_in_flight(events: Events) -> InFlightSteps:
    """The in-flight step function of requests that run on ``[start, end)``."""
    count = np.cumsum(events.delta)
    last_of_time = np.ones(events.times.shape[0], dtype=bool)
    last_of_time[:-1] = events.times[1:] != events.times[:-1]
    return InFlightSteps(events.times[last_of_time], count[last_of_time])


@dataclass(frozen=True, slots=True)
class Steadiness:
    """How full the server was kept inside a window of ``duration_s`` seconds.

    ``mean_in_flight``: time-averaged in-flight count (request-seconds in the window / duration);
    ``peak_in_flight``: the largest count held for a positive time; ``at_batch_size_share``: share of
    the window (0..1) with at least ``batch_size`` requests in flight; ``longest_below_batch_size_s``:
    the longest unbroken stretch with fewer than ``batch_size`` in flight.
    """

    mean_in_flight: float
    peak_in_flight: int
    at_batch_size_share: float
    longest_below_batch_size_s: float


def compute_steadiness(steps: InFlightSteps, lo_s: float, hi_s: float, batch_size: int) -> Steadiness:
    """The steadiness of ``[lo_s, hi_s)``; all zeros for an empty window."""
    durations, counts = steps.segments(lo_s, hi_s)
    total_s = float(durations.sum())
    if total_s <= 0:
        return Steadiness(0.0, 0, 0.0, 0.0)
    below = counts < batch_size
    return Steadiness(
        mean_in_flight=float(np.dot(durations, counts)) / total_s,
        peak_in_flight=int(counts.max()),
        at_batch_size_share=float(durations[~below].sum()) / total_s,
        longest_below_batch_size_s=longest_run_s(durations, below),
    )


def longest_run_s(durations: np.ndarray, flags: np.ndarray) -> float:
    """The largest sum of ``durations`` over consecutive segments where ``flags`` is True."""
    if durations.shape[0] == 0:
        return 0.0
    running = np.cumsum(np.where(flags, durations, 0.0))
    # the running total at the most recent segment that broke the run (0 before the first one)
    at_last_break = np.maximum.accumulate(np.where(flags, 0.0, running))
    return float((running - at_last_break).max())
