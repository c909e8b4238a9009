"""Pure data shaping for the concurrency report (``<ds>_plot.html``): numpy in, numpy out.

Every ``*_rel_s`` time is seconds after the **first send of the run** (the smallest finite
``start_s`` over all rows, failed ones included): the origin ``StableWindow.start_rel_s`` uses, so
the steady window lines up with the timeline. Nothing here computes a metric that is reported; the
durations below only feed hover labels and the pictures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ais_bench.records.record import RequestTable

#: Segment families of the request timeline, in drawing order.
SEGMENT_FAMILIES = ("ttft", "decode", "whole", "failed")


@dataclass(frozen=True, slots=True)
class Segments:
    """Horizontal segments of one family: segment k spans ``start_rel_s[k] -> end_rel_s[k]`` at
    height ``rank[k]`` (the request's rank by start time, an index into the timeline's columns)."""

    start_rel_s: np.ndarray  # float64 (m,)
    end_rel_s: np.ndarray  # float64 (m,)
    rank: np.ndarray  # int64 (m,)

    def __len__(self) -> int:
        return int(self.rank.shape[0])


@dataclass(frozen=True, slots=True)
class RequestTimeline:
    """The request timeline: each drawable request is a row at its rank by start time.

    Families: ``ttft`` (successful, streaming: send -> first event), ``decode`` (successful,
    streaming: first event -> last event; left out when it has zero length), ``whole`` (successful
    without a first-event split, i.e. non-streaming: send -> end), ``failed`` (send -> failure seen).
    Requests without a finite start are not drawn. ``rank[i]`` is row i's rank (-1 when not drawn);
    ties keep table order. The per-request columns (``start_rel_s`` ... ``output_tokens``) are in
    rank order and feed the hover labels: ``ttft_s`` is NaN when not streaming or failed,
    ``decode_s`` = ``e2el_s`` - ``ttft_s``.
    """

    rank: np.ndarray  # int64 (n,)
    ttft: Segments
    decode: Segments
    whole: Segments
    failed: Segments
    start_rel_s: np.ndarray  # float64 (m,) in rank order
    ttft_s: np.ndarray
    e2el_s: np.ndarray
    success: np.ndarray  # bool (m,)
    input_tokens: np.ndarray  # int64 (m,)
    output_tokens: np.ndarray  # int64 (m,)

    def family(self, name: str) -> Segments:
        families = {"ttft": self.ttft, "decode": self.decode, "whole": self.whole, "failed": self.failed}
        return families[name]


@dataclass(frozen=True, slots=True)
class InFlightSteps:
    """In-flight count over time as a step function: after ``time_rel_s[k]`` the count is ``count[k]``.

    Built from +1 at each start and -1 at each end; events at the same time are netted into one
    step and times whose net change is 0 are left out. Before ``time_rel_s[0]`` the count is 0.
    """

    time_rel_s: np.ndarray  # float64 (k,)
    count: np.ndarray  # int64 (k,)


@dataclass(frozen=True, slots=True)
class SendRate:
    """Requests per second in equal bins: planned (``scheduled_s``) vs actual sends of paced requests.

    Bin j covers ``[edges_rel_s[j], edges_rel_s[j+1])`` (the last bin is closed); a rate is the
    number of sends in the bin divided by ``bin_s``.
    """

    bin_s: float
    edges_rel_s: np.ndarray  # float64 (k+1,)
    expected_rps: np.ndarray  # float64 (k,)
    actual_rps: np.ndarray  # float64 (k,)


def first_send_s(table: RequestTable) -> float:
    """The time origin of the report: the smallest finite ``start_s`` (perf_counter s); 0 when none."""
    finite = table.start_s[np.isfinite(table.start_s)]
    return float(finite.min()) if finite.size else 0.0


def build_timeline(table: RequestTable, *, stream: bool, origin_s: float) -> RequestTimeline:
    """Segments and hover columns of every request; see ``RequestTimeline``."""
    lengths = np.diff(table.offsets)
    has_points = lengths >= 1
    first_point = np.where(has_points, table.offsets[:-1], 0)
    last_point = np.where(has_points, table.offsets[1:] - 1, 0)
    points = table.time_points_s if table.time_points_s.size else np.zeros(1)
    ok = table.success & (lengths >= 2)
    start_s = np.where(ok, points[first_point], table.start_s)
    end_s = np.where(ok, np.maximum(points[last_point], table.end_s), table.end_s)
    split = ok & stream
    first_event_s = np.where(split, points[np.minimum(first_point + 1, points.size - 1)], np.nan)

    drawn = np.isfinite(start_s)
    order = np.flatnonzero(drawn)[np.argsort(start_s[drawn], kind="stable")]
    rank = np.full(len(table), -1, dtype=np.int64)
    rank[order] = np.arange(order.size)

    start_rel, end_rel = start_s[order] - origin_s, end_s[order] - origin_s
    first_rel = first_event_s[order] - origin_s
    is_ok, is_split = ok[order], split[order]
    failed = ~is_ok & np.isfinite(end_rel)
    has_decode = is_split & (end_rel > first_rel)
    whole = is_ok & ~is_split

    def family(mask: np.ndarray, x0: np.ndarray, x1: np.ndarray) -> Segments:
        return Segments(x0[mask], x1[mask], np.flatnonzero(mask))

    return RequestTimeline(
        rank=rank,
        ttft=family(is_split, start_rel, first_rel),
        decode=family(has_decode, first_rel, end_rel),
        whole=family(whole, start_rel, end_rel),
        failed=family(failed, start_rel, end_rel),
        start_rel_s=start_rel,
        ttft_s=first_rel - start_rel,
        e2el_s=end_rel - start_rel,
        success=is_ok,
        input_tokens=table.input_tokens[order],
        output_tokens=table.output_tokens[order],
    )


def build_inflight_steps(start_s: np.ndarray, end_s: np.ndarray, *, origin_s: float) -> InFlightSteps:
    """In-flight steps of the requests with finite ``start_s < end_s`` (others are ignored)."""
    start_s, end_s = np.asarray(start_s, dtype=np.float64), np.asarray(end_s, dtype=np.float64)
    valid = np.isfinite(start_s) & np.isfinite(end_s) & (end_s > start_s)
    times = np.concatenate([start_s[valid], end_s[valid]]) - origin_s
    deltas = np.concatenate([np.ones(valid.sum(), np.int64), -np.ones(valid.sum(), np.int64)])
    if times.size == 0:
        return InFlightSteps(np.zeros(0), np.zeros(0, dtype=np.int64))
    order = np.argsort(times, kind="stable")
    times, deltas = times[order], deltas[order]
    unique_times, first_index = np.unique(times, return_index=True)
    net = np.add.reduceat(deltas, first_index)
    changed = net != 0
    return InFlightSteps(unique_times[changed], np.cumsum(net)[changed])


def choose_bin_s(span_s: float, target_bins: int = 60) -> float:
    """The smallest 1-2-5 x 10^k seconds width giving at most ``target_bins`` bins over ``span_s``."""
    if not math.isfinite(span_s) or span_s <= 0:
        return 1.0
    raw = span_s / target_bins
    decade = 10.0 ** math.floor(math.log10(raw))
    for step in (1.0, 2.0, 5.0, 10.0):
        if step * decade >= raw * (1 - 1e-12):
            return step * decade
    return 10.0 * decade  # pragma: no cover - the loop always returns


def build_send_rate(
    scheduled_s: np.ndarray | None, start_s: np.ndarray, *, origin_s: float, bin_s: float | None = None
) -> SendRate | None:
    """Planned vs actual send rate of the paced requests (finite ``scheduled_s`` and ``start_s``).

    None when no request was paced. ``bin_s`` defaults to ``choose_bin_s`` of the span covered.
    """
    if scheduled_s is None:
        return None
    planned = np.asarray(scheduled_s, dtype=np.float64)
    sent = np.asarray(start_s, dtype=np.float64)
    paced = np.isfinite(planned) & np.isfinite(sent)
    if not paced.any():
        return None
    planned, sent = planned[paced] - origin_s, sent[paced] - origin_s
    low = min(float(planned.min()), float(sent.min()), 0.0)
    high = max(float(planned.max()), float(sent.max()))
    width = bin_s if bin_s is not None else choose_bin_s(high - low)
    count = max(1, math.ceil((high - low) / width - 1e-9))
    edges = low + width * np.arange(count + 1, dtype=np.float64)
    edges[-1] = max(edges[-1], high)
    expected, _ = np.histogram(planned, bins=edges)
    actual, _ = np.histogram(sent, bins=edges)
    return SendRate(width, edges, expected / width, actual / width)
