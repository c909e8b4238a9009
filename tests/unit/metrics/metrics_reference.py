"""Slow, obvious pure-Python reference of the per-request metrics, statistics and both stages.

Written straight from the behaviour spec (§5.1, §5.2, §6.1, §6.2), one request at a time, so the
numpy implementation can be checked against it.
"""

from __future__ import annotations

import math
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


def ref_in_flight_events(requests: list[RefRequest]) -> list[tuple[float, int, int]]:
    """(time, +1/-1, count after the event), built as (r0 start, r0 end, r1 start, ...), stable sort."""
    events = []
    for r in requests:
        events.append((r.start, +1))
        events.append((r.end, -1))
    events.sort(key=lambda e: e[0])  # list.sort is stable
    walked, count = [], 0
    for time, delta in events:
        count += delta
        walked.append((time, delta, count))
    return walked


def ref_stable_window(requests: list[RefRequest], batch_size: int) -> tuple[float, float] | None:
    """(t2, t4), or None when there is no steady stage (incl. a zero-length window)."""
    starts_at_max = []
    last_at_max = None
    for time, delta, count in ref_in_flight_events(requests):
        if count == batch_size:
            last_at_max = time
            if delta == +1:
                starts_at_max.append(time)
    if len(starts_at_max) < 2 or last_at_max is None:
        return None
    t2, t4 = starts_at_max[1], last_at_max
    if not t4 > t2:
        return None
    return t2, t4
