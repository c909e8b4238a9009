"""Time series and distributions of the concurrency report (``<ds>_plot.html``): numpy in, numpy out.

Times are ``*_rel_s``, seconds after the first send of the run (as in ``plot_data``). The time axis is
cut into equal bins (``build_time_bins``: a 1-2-5 x 10^k s width giving at most ``MAX_TIME_BINS``
bins over the run, e.g. 0.5 s for a 60 s run, 500 s for 24 h); every series is one value per bin,
so a series' size does not grow with the number of requests.

Per-request latencies come from ``metrics.per_request`` (the values the tables summarise, successful
requests only); the gap end times of the ITL values are the token events that close each gap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ais_bench.metrics.per_request import PerRequestMetrics, point_ranges_mask
from ais_bench.records.record import RequestTable
from ais_bench.reports.plot_data import InFlightSteps, choose_bin_s

#: At most this many time bins over a run (the bin width is ``choose_bin_s(span, MAX_TIME_BINS)``).
MAX_TIME_BINS = 120
#: Runs with more requests than this draw no per-request trace (request timeline, latency scatters):
#: density per time bin and binned percentiles instead, which keeps a 1M-request page a few MB.
PER_REQUEST_LIMIT = 20_000
#: Percentiles drawn over time, each over a rolling window of 2 * ROLLING_HALF_BINS + 1 time bins
#: centred on a bin (cut at the run's ends), one value per bin.
SERIES_PERCENTILES = (50.0, 99.0)
ROLLING_HALF_BINS = 2
#: Bars of a histogram; rows of a density map.
HISTOGRAM_BINS = 60
DENSITY_ROWS = 40
#: The histogram and the density map stop at this percentile (larger values count in the last bar).
HISTOGRAM_TOP_PERCENTILE = 99.9
#: Points of a drawn CDF (exact quantiles at evenly spaced shares 0, 0.005, ..., 1).
CDF_POINTS = 201
#: Values binned per step (bounds the temporaries of a 1M-request run's 100M token events).
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class TimeBins:
    """Bin j covers ``[j * width_s, (j + 1) * width_s)`` after the first send; the last bin is closed
    and may end after the run (its rates then read low)."""

    width_s: float
    count: int

    @property
    def edges_rel_s(self) -> np.ndarray:
        return self.width_s * np.arange(self.count + 1, dtype=np.float64)

    @property
    def centres_rel_s(self) -> np.ndarray:
        return self.width_s * (np.arange(self.count, dtype=np.float64) + 0.5)

    def index(self, time_rel_s: np.ndarray) -> np.ndarray:
        """Bin of each finite time (int32; times outside ``[0, end]`` are clipped into the first or
        last bin)."""
        scaled = np.divide(time_rel_s, self.width_s, dtype=np.float64)
        np.clip(scaled, 0, self.count - 1, out=scaled)
        index: np.ndarray = scaled.astype(np.int32)  # truncation is the floor of these non-negative values
        return index


def build_time_bins(span_s: float, max_bins: int = MAX_TIME_BINS) -> TimeBins:
    """Bins of ``choose_bin_s(span_s, max_bins)`` seconds covering ``[0, span_s]``."""
    width = choose_bin_s(span_s, max_bins)
    count = max(1, int(np.ceil(span_s / width - 1e-9))) if span_s > 0 else 1
    return TimeBins(width, count)


def binned_rate(bins: TimeBins, time_rel_s: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Per second in each bin: the count of the finite ``time_rel_s`` (or the sum of their
    ``weights``) / width."""
    totals = np.zeros(bins.count)
    for lo in range(0, len(time_rel_s), _CHUNK):
        totals += _bin_totals(bins, time_rel_s[lo : lo + _CHUNK], None if weights is None else weights[lo : lo + _CHUNK])
    rate: np.ndarray = totals / bins.width_s
    return rate


def _bin_totals(bins: TimeBins, times: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    finite = np.isfinite(times)
    if not finite.all():
        times, weights = times[finite], None if weights is None else weights[finite]
    totals: np.ndarray = np.bincount(bins.index(times), weights=weights, minlength=bins.count)
    return totals


def rolling_percentiles(
    bins: TimeBins, time_rel_s: np.ndarray, values: np.ndarray, qs: Sequence[float] = SERIES_PERCENTILES, *,
    half_width: int = ROLLING_HALF_BINS, exact: bool = True,
) -> np.ndarray:
    """For each bin j, the percentiles ``qs`` of the values whose time falls in bins ``j - half_width``
    .. ``j + half_width`` (the window, cut at the run's ends): shape (bins, len(qs)); NaN rows for
    windows without values. ``exact``: ``np.percentile`` (linear) of the window's values; else
    estimated from ``ValueSketch`` counts per bin (within ``SKETCH_RELATIVE_ERROR`` of the exact value)."""
    times, vals = np.asarray(time_rel_s), np.asarray(values)  # float32 stays float32 (100M ITL gaps)
    keep = np.isfinite(times) & np.isfinite(vals)
    if not keep.all():
        times, vals = times[keep], vals[keep]
    if not exact:
        return ValueSketch.of(bins, times, vals).rolling_percentiles(qs, half_width)
    index = _bin_index(bins, times)
    grouped = vals[np.argsort(index, kind="stable")]
    bounds = np.concatenate([[0], np.cumsum(np.bincount(index, minlength=bins.count))])
    out = np.full((bins.count, len(qs)), np.nan)
    for j in range(bins.count):
        lo, hi = bounds[max(0, j - half_width)], bounds[min(bins.count, j + half_width + 1)]
        if hi > lo:
            out[j] = np.percentile(grouped[lo:hi], qs)
    return out


def rolling_window_s(bins: TimeBins, half_width: int = ROLLING_HALF_BINS) -> float:
    """The width (s) of a rolling window away from the run's ends."""
    return (2 * half_width + 1) * bins.width_s


def _bin_index(bins: TimeBins, times: np.ndarray) -> np.ndarray:
    """The bin of each time, as uint8 when it fits (numpy sorts those by radix: O(n))."""
    index = np.empty(len(times), dtype=np.uint8 if bins.count <= 256 else np.int32)
    for lo in range(0, len(times), _CHUNK):
        index[lo : lo + _CHUNK] = bins.index(times[lo : lo + _CHUNK])
    return index


#: ``ValueSketch``: a value's bin is its float32 exponent and the top ``_SKETCH_MANTISSA_BITS`` bits of
#: its mantissa (128 bins per doubling: each bin at most 1/128 of its lower edge wide), from
#: ``SKETCH_LOW_MS`` (smaller values share one bin from 0) to ``SKETCH_HIGH_MS`` (larger ones count in
#: the top bin).
_SKETCH_MANTISSA_BITS = 7
_SKETCH_SHIFT = 23 - _SKETCH_MANTISSA_BITS
SKETCH_LOW_MS = 2.0**-10
SKETCH_HIGH_MS = 2.0**24
SKETCH_RELATIVE_ERROR = 2.0**-_SKETCH_MANTISSA_BITS
_SKETCH_FIRST = int(np.array(SKETCH_LOW_MS, dtype=np.float32).view(np.int32)) >> _SKETCH_SHIFT
_SKETCH_LAST = int(np.array(SKETCH_HIGH_MS, dtype=np.float32).view(np.int32)) >> _SKETCH_SHIFT
SKETCH_BINS = _SKETCH_LAST - _SKETCH_FIRST + 2  # + the bin of [0, SKETCH_LOW_MS)


@dataclass(frozen=True, slots=True)
class ValueSketch:
    """Counts of values (ms, >= 0) per (time bin, value bin) on log-spaced value bins whose edges are
    float32 numbers: ``counts[j, k]`` values of time bin j in ``[edges[k], edges[k + 1])``. A
    percentile is the order statistic's bin, linearly interpolated inside it (the values of a bin are
    taken as evenly spread), so it is off by less than one bin: ``SKETCH_RELATIVE_ERROR`` (0.8 %) of
    the value (1 µs below ``SKETCH_LOW_MS``). Its cost is one pass over the values, no sort."""

    counts: np.ndarray  # int64 (time bins, SKETCH_BINS)

    @staticmethod
    def edges() -> np.ndarray:
        """The SKETCH_BINS + 1 value edges (ms): 0, SKETCH_LOW_MS, ..., past SKETCH_HIGH_MS."""
        bits = (np.arange(_SKETCH_FIRST, _SKETCH_LAST + 2, dtype=np.int64) << _SKETCH_SHIFT).astype(np.int32)
        return np.concatenate([[0.0], bits.view(np.float32).astype(np.float64)])

    @classmethod
    def of(cls, bins: TimeBins, time_rel_s: np.ndarray, values_ms: np.ndarray) -> ValueSketch:
        """The sketch of ``values_ms`` (finite) at ``time_rel_s``, ``_CHUNK`` values at a time."""
        flat = np.zeros(bins.count * SKETCH_BINS, dtype=np.int64)
        for lo in range(0, len(values_ms), _CHUNK):
            chunk = np.array(values_ms[lo : lo + _CHUNK], dtype=np.float32)  # a copy: clipped in place
            np.maximum(chunk, 0, out=chunk)
            value_bin = (chunk.view(np.int32) >> _SKETCH_SHIFT) - (_SKETCH_FIRST - 1)
            np.clip(value_bin, 0, SKETCH_BINS - 1, out=value_bin)
            cell = bins.index(time_rel_s[lo : lo + _CHUNK]) * SKETCH_BINS + value_bin
            flat += np.bincount(cell, minlength=bins.count * SKETCH_BINS)
        return cls(flat.reshape(bins.count, SKETCH_BINS))

    def rolling_percentiles(self, qs: Sequence[float], half_width: int) -> np.ndarray:
        """``rolling_percentiles`` from the counts: shape (time bins, len(qs))."""
        count = self.counts.shape[0]
        running = np.concatenate([np.zeros((1, SKETCH_BINS), dtype=np.int64), np.cumsum(self.counts, axis=0)])
        edges = self.edges()
        out = np.full((count, len(qs)), np.nan)
        for j in range(count):
            window = running[min(count, j + half_width + 1)] - running[max(0, j - half_width)]
            if window.any():
                out[j] = _sketch_percentiles(window, edges, qs)
        return out


def _sketch_percentiles(counts: np.ndarray, edges: np.ndarray, qs: Sequence[float]) -> np.ndarray:
    """numpy's linear percentiles of the values counted in ``counts``, each order statistic placed
    evenly inside its bin: the k-th of a bin's c values (from 0) at ``lo + (k + 0.5) / c * (hi - lo)``."""
    cumulative = np.cumsum(counts)
    n = int(cumulative[-1])
    ranks = np.asarray(qs, dtype=np.float64) / 100 * (n - 1)
    below = np.floor(ranks).astype(np.int64)
    above = np.minimum(below + 1, n - 1)

    def order_statistic(k: np.ndarray) -> np.ndarray:
        b = np.searchsorted(cumulative, k, side="right")
        before = cumulative[b] - counts[b]
        value: np.ndarray = edges[b] + (k - before + 0.5) / counts[b] * (edges[b + 1] - edges[b])
        return value

    low, high = order_statistic(below), order_statistic(above)
    result: np.ndarray = low + (ranks - below) * (high - low)
    return result


@dataclass(frozen=True, slots=True)
class Density:
    """Counts of values per (value row, time bin): ``counts[r, j]`` values in ``[value_edges[r],
    value_edges[r+1])`` whose time is in bin j; values above the top edge count in the top row."""

    value_edges: np.ndarray  # float64 (rows+1,)
    counts: np.ndarray  # int64 (rows, bins)


def build_density(bins: TimeBins, time_rel_s: np.ndarray, values: np.ndarray, top: float,
                  rows: int = DENSITY_ROWS) -> Density:
    """Density of ``values`` over time on ``rows`` equal value rows from 0 to ``top``."""
    height = top / rows if top > 0 else 1.0
    flat = np.zeros(rows * bins.count, dtype=np.int64)
    for lo in range(0, len(values), _CHUNK):
        times, vals = time_rel_s[lo : lo + _CHUNK], values[lo : lo + _CHUNK]
        keep = np.isfinite(times) & np.isfinite(vals)
        if not keep.all():
            times, vals = times[keep], vals[keep]
        row = np.divide(vals, height)
        np.clip(row, 0, rows - 1, out=row)
        cell = row.astype(np.int32) * bins.count + bins.index(times)
        flat += np.bincount(cell, minlength=rows * bins.count)
    return Density(height * np.arange(rows + 1, dtype=np.float64), flat.reshape(rows, bins.count))


@dataclass(frozen=True, slots=True)
class Distribution:
    """A histogram (``counts[k]`` values in ``[edges[k], edges[k+1])``, the last bar closed and also
    holding every value above ``edges[-1]``, the ``HISTOGRAM_TOP_PERCENTILE``) and the exact CDF:
    a share ``cdf_share[i]`` of the values are at most ``cdf_value[i]`` (linear percentiles)."""

    edges: np.ndarray  # float64 (bars+1,)
    counts: np.ndarray  # int64 (bars,)
    cdf_value: np.ndarray  # float64 (CDF_POINTS,)
    cdf_share: np.ndarray  # float64 (CDF_POINTS,)
    size: int


def build_distribution(values: np.ndarray, bars: int = HISTOGRAM_BINS) -> Distribution | None:
    """Histogram and CDF of the finite ``values``; None when there are none."""
    vals = np.asarray(values)
    finite = np.isfinite(vals)
    if not finite.all():
        vals = vals[finite]
    if vals.size == 0:
        return None
    share = np.linspace(0.0, 1.0, CDF_POINTS)
    quantiles = np.percentile(vals, np.append(share * 100, HISTOGRAM_TOP_PERCENTILE)).astype(np.float64)
    low, top = float(quantiles[0]), float(quantiles[-1])
    if not top - low > 1e-9 * max(1.0, abs(top)):  # (nearly) one value: bars of a finite width
        top = low + 1.0
    counts, edges = np.histogram(vals, bins=bars, range=(low, top))
    counts[-1] += int(np.count_nonzero(vals > top))
    return Distribution(edges, counts, quantiles[:-1], share, int(vals.size))


@dataclass(frozen=True, slots=True)
class LatencyPoints:
    """Per-request latencies (ms) at their time, successful requests only.

    ``ttft``: at the send (streaming only, else empty). ``itl_mean``: each request's mean ITL gap
    (``(last event - first event) / gaps``) at the middle of its decode, requests with a gap only.
    ``itl_gaps``: every ITL gap at the token event that ends it (the pooled values of the ITL row;
    float32: a 1M-request run has 100M of them).
    ``e2el``: at the send. ``tpot_ms``: the defined TPOTs (no time: histogram only).
    """

    ttft: tuple[np.ndarray, np.ndarray]
    itl_mean: tuple[np.ndarray, np.ndarray]
    itl_gaps: tuple[np.ndarray, np.ndarray]
    e2el: tuple[np.ndarray, np.ndarray]
    tpot_ms: np.ndarray


def build_latency_points(table: RequestTable, requests: PerRequestMetrics, *, origin_s: float) -> LatencyPoints:
    """``LatencyPoints`` of ``requests`` (``compute_per_request(table, stream)``)."""
    points = np.asarray(table.time_points_s, dtype=np.float64)
    rows = requests.row_index
    first = np.asarray(table.offsets, dtype=np.int64)[rows]
    last = np.asarray(table.offsets, dtype=np.int64)[rows + 1] - 1
    start_rel = requests.start_s - origin_s
    e2el = (start_rel, requests.e2el_s * 1000)
    if not requests.stream or len(requests) == 0:
        empty = (np.zeros(0), np.zeros(0))
        return LatencyPoints(empty, empty, empty, e2el, np.zeros(0))
    gaps = np.diff(requests.itl_offsets)
    has_gap = gaps > 0
    first_event, last_event = points[first + 1][has_gap], points[last][has_gap]
    itl_mean = ((first_event + last_event) / 2 - origin_s, (last_event - first_event) / gaps[has_gap] * 1000)
    gap_end_rel_s = _masked_rel(points, point_ranges_mask(points.shape[0], first + 2, last), origin_s)
    return LatencyPoints(
        ttft=(start_rel, requests.ttft_s * 1000),
        itl_mean=itl_mean,
        itl_gaps=(gap_end_rel_s, np.multiply(requests.itl_s, 1000, dtype=np.float32)),
        e2el=e2el,
        tpot_ms=requests.tpot_s[requests.tpot_defined] * 1000,
    )


def _masked_rel(points: np.ndarray, mask: np.ndarray, origin_s: float) -> np.ndarray:
    """``points[mask] - origin_s`` as float32, taken ``_CHUNK`` points at a time (the ITL gaps of a
    1M-request run are 100M values: float32 halves them; their spacing stays under 8 ms over 24 h)."""
    out = np.empty(int(np.count_nonzero(mask)), dtype=np.float32)
    pos = 0
    for lo in range(0, len(points), _CHUNK):
        chunk = points[lo : lo + _CHUNK][mask[lo : lo + _CHUNK]]
        out[pos : pos + len(chunk)] = chunk - origin_s
        pos += len(chunk)
    return out


@dataclass(frozen=True, slots=True)
class Throughput:
    """Per time bin: output tokens/s (each successful request's output tokens spread evenly over its
    token events: the body read when not streaming), successful and failed requests completed/s."""

    output_tokens_per_s: np.ndarray
    requests_per_s: np.ndarray
    failed_per_s: np.ndarray


def build_throughput(table: RequestTable, requests: PerRequestMetrics, bins: TimeBins, *,
                     origin_s: float) -> Throughput:
    failed = np.ones(len(table), dtype=bool)
    failed[requests.row_index] = False
    return Throughput(
        output_tokens_per_s=_token_rate(table, requests, bins, origin_s),
        requests_per_s=binned_rate(bins, requests.end_s - origin_s),
        failed_per_s=binned_rate(bins, np.asarray(table.end_s, dtype=np.float64)[failed] - origin_s),
    )


def _token_rate(table: RequestTable, requests: PerRequestMetrics, bins: TimeBins, origin_s: float) -> np.ndarray:
    """Output tokens/s per bin, requests taken in groups of about ``_CHUNK`` time points."""
    points = np.asarray(table.time_points_s, dtype=np.float64)
    offsets = np.asarray(table.offsets, dtype=np.int64)
    first, last = offsets[requests.row_index], offsets[requests.row_index + 1] - 1
    events = last - first  # time points after the send (>= 1)
    per_event = requests.output_tokens / np.maximum(events, 1)
    totals = np.zeros(bins.count)
    step = max(1, int(_CHUNK * len(requests) // max(int(events.sum()), 1)))
    for k in range(0, len(requests), step):
        lo, hi = int(first[k]), int(last[min(k + step, len(requests)) - 1]) + 1
        group = slice(k, k + step)
        mask = point_ranges_mask(hi - lo, first[group] + 1 - lo, last[group] - lo)
        times = points[lo:hi][mask] - origin_s
        totals += _bin_totals(bins, times, np.repeat(per_event[group], events[group]))
    rate: np.ndarray = totals / bins.width_s
    return rate


#: At most this many bins for the in-flight range of a binned report (the step chart of a 1M-request
#: run has 2M steps: 30 MB in the page).
MAX_INFLIGHT_BINS = 2000


@dataclass(frozen=True, slots=True)
class InFlightRange:
    """The lowest and highest in-flight count held at any moment of each bin of ``bins``."""

    bins: TimeBins
    low: np.ndarray  # int64 (bins,)
    high: np.ndarray  # int64 (bins,)


def build_inflight_range(steps: InFlightSteps, bins: TimeBins) -> InFlightRange:
    """Range per bin of a step function (``InFlightSteps``: 0 before its first step)."""
    counts = np.concatenate([[0], steps.count]).astype(np.int64)  # counts[k + 1] holds after step k
    # the count in effect at each bin's start: after the last step at or before it
    low = counts[np.searchsorted(steps.time_rel_s, bins.edges_rel_s[:-1], side="right")]
    high = low.copy()
    inside = bins.index(steps.time_rel_s)
    np.minimum.at(low, inside, steps.count)
    np.maximum.at(high, inside, steps.count)
    return InFlightRange(bins, low, high)
