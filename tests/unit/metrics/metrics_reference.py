"""Slow, obvious pure-Python reference of the per-request metrics, statistics and both stages.

Written straight from the behaviour spec (§5.1, §5.2, §6.1, §6.2), one request at a time, so the
numpy implementation can be checked against it.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field


@dataclass
class RefRequest:
    row: int
    start: float
    end: float
    e2el: float
    ttft: float
    tpot: float
    itl: list[float]
    out_tp: float
    prefill_tp: float
    n_in: int
    n_out: int


@dataclass
class RefTable:
    time_points: list[list[float]]
    success: list[bool]
    n_in: list[int]
    n_out: list[int]
    start_s: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.start_s:
            self.start_s = [tp[0] if tp else math.nan for tp in self.time_points]


def ref_per_request(table: RefTable, stream: bool) -> list[RefRequest]:
    result = []
    for row, tp in enumerate(table.time_points):
        if not table.success[row] or len(tp) < 2:
            continue  # failed, or "chunk size is less than 2"
        n_in, n_out = table.n_in[row], table.n_out[row]
        e2el = tp[-1] - tp[0]
        ttft = tp[1] - tp[0] if stream else 0.0
        tpot = (e2el - ttft) / (n_out - 1) if stream and n_out > 1 else 0.0
        itl = [tp[i + 1] - tp[i] for i in range(1, len(tp) - 1)]
        out_tp = n_out / e2el if e2el > 0 else 0.0
        prefill_tp = n_in / ttft if ttft > 0 else 0.0
        result.append(RefRequest(row, tp[0], tp[-1], e2el, ttft, tpot, itl, out_tp, prefill_tp, n_in, n_out))
    return result


def ref_percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default method)."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def ref_stat(values: list[float], stat: str) -> float:
    if stat == "Average":
        return math.fsum(values) / len(values)
    if stat == "Min":
        return min(values)
    if stat == "Max":
        return max(values)
    if stat == "Median":
        return ref_percentile(values, 50)
    return ref_percentile(values, int(stat[1:]))


def ref_moments(requests: list[RefRequest], simultaneous: float) -> list[tuple[float, int, bool]]:
    """(time of the moment's first event, count after the moment, holds a start) of every moment.

    Events (+1 at each start, -1 at each end) in time order; a moment takes every event no later than
    its first event + ``simultaneous``.
    """
    events = sorted([(r.start, +1) for r in requests] + [(r.end, -1) for r in requests], key=lambda e: e[0])
    moments: list[tuple[float, int, bool]] = []
    count, i = 0, 0
    while i < len(events):
        first = events[i][0]
        has_start = False
        while i < len(events) and events[i][0] <= first + simultaneous:
            count += events[i][1]
            has_start = has_start or events[i][1] == +1
            i += 1
        moments.append((first, count, has_start))
    return moments


def ref_stable_window(requests: list[RefRequest], batch_size: int) -> tuple[float, float] | None:
    """(t2, t4), or None when there is no steady stage (incl. a window under half the median E2EL)."""
    if not requests:
        return None
    median = statistics.median([r.e2el for r in requests])
    moments = ref_moments(requests, 0.02 * median)
    hits = [k for k, (_, count, has_start) in enumerate(moments) if count == batch_size and has_start]
    at_batch = [k for k, (_, count, _) in enumerate(moments) if count == batch_size]
    if len(hits) < 2:
        return None
    t2, t4 = moments[hits[1]][0], moments[at_batch[-1] + 1][0]
    if not t4 - t2 >= 0.5 * median:
        return None
    return t2, t4


def ref_window_work(requests: list[RefRequest], t2: float, t4: float) -> float:
    """Requests counted by the share of [start, end] inside [t2, t4) (zero-length ones: 1 if inside)."""
    total = 0.0
    for r in requests:
        if r.end > r.start:
            total += max(0.0, min(r.end, t4) - max(r.start, t2)) / (r.end - r.start)
        elif t2 <= r.start < t4:
            total += 1.0
    return total
