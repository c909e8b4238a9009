"""What the scraped series say about one stage of the run: :func:`derive` (series, window).

Over a window ``[start_s, end_s]`` (perf_counter seconds, the clock of the records):

- gauges (running and waiting requests, KV-cache usage): the samples taken inside the window, added
  up over label sets at each scrape (fractions: averaged), then their mean and max over the scrapes;
- counters (prompt and generation tokens, prefix-cache hits and queries, speculative-decoding drafts
  and accepted tokens): the increase from the last scrape at or before ``start_s`` to the first at or
  after ``end_s`` (the *counter span*, which holds the whole window); a value lower than the one
  before is a counter reset (server restart) and counts from zero. Rates divide by the span;
- histograms (the server's TTFT and ITL): the increase of each bucket over the counter span, and
  quantiles interpolated linearly inside the bucket that holds them (as Prometheus's
  ``histogram_quantile``); a quantile in the ``+Inf`` bucket is the largest finite bound.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ais_bench.records.server_series import ServerSeries
from ais_bench.server_metrics.names import FRACTION_GAUGES, Selector, ServerNames, servers_present

#: The quantiles reported of the server's histograms.
HISTOGRAM_QUANTILES = (0.5, 0.9, 0.99)


@dataclass(frozen=True)
class StageWindow:
    """A stage's time window, perf_counter seconds."""

    stage: str
    start_s: float
    end_s: float

    def holds(self, times_s: np.ndarray) -> np.ndarray:
        """Which of ``times_s`` (perf_counter seconds) fall in the window, both ends included."""
        return (times_s >= self.start_s) & (times_s <= self.end_s)


@dataclass(frozen=True)
class GaugeStats:
    """A gauge over a window: mean and max of its ``samples`` scrapes."""

    mean: float
    max: float
    samples: int

    def to_json_dict(self) -> dict[str, Any]:
        return {"mean": self.mean, "max": self.max, "samples": self.samples}


@dataclass(frozen=True)
class HistogramStats:
    """A server histogram's observations within a counter span: ``count``, ``mean_s`` (sum / count)
    and quantiles in seconds by name (``p50_s``, ...)."""

    count: float
    mean_s: float | None
    quantiles_s: dict[str, float | None]

    def to_json_dict(self) -> dict[str, Any]:
        return {"count": self.count, "mean_s": self.mean_s, **self.quantiles_s}


@dataclass(frozen=True)
class CounterIncrease:
    """A counter's increase over ``[from_s, to_s]`` (the counter span)."""

    increase: float
    from_s: float
    to_s: float

    @property
    def per_s(self) -> float:
        return self.increase / (self.to_s - self.from_s)


@dataclass(frozen=True)
class ServerDerived:
    """One server's derived numbers in one window (None: not exposed, or too few scrapes in it).
    Every field is given (``_derive_server``): a number added here cannot be left out there."""

    server: str
    running: GaugeStats | None
    waiting: GaugeStats | None
    kv_cache_usage: GaugeStats | None
    prefix_cache_hit_rate: float | None
    spec_acceptance_rate: float | None
    spec_mean_accepted_length: float | None
    prompt_tokens: CounterIncrease | None
    prompt_tokens_computed: CounterIncrease | None
    prompt_tokens_cached: CounterIncrease | None
    prompt_cache_share: float | None
    generation_tokens: CounterIncrease | None
    ttft: HistogramStats | None
    itl: HistogramStats | None

    def to_json_dict(self) -> dict[str, Any]:
        def gauge(stats: GaugeStats | None) -> dict[str, Any] | None:
            return None if stats is None else stats.to_json_dict()

        def histogram(stats: HistogramStats | None) -> dict[str, Any] | None:
            return None if stats is None else stats.to_json_dict()

        def increase(counter: CounterIncrease | None) -> float | None:
            return None if counter is None else counter.increase

        def per_s(counter: CounterIncrease | None) -> float | None:
            return None if counter is None else counter.per_s

        span = self.generation_tokens or self.prompt_tokens or self.prompt_tokens_computed
        return {
            "running_requests": gauge(self.running),
            "waiting_requests": gauge(self.waiting),
            "kv_cache_usage": gauge(self.kv_cache_usage),
            "prefix_cache_hit_rate": self.prefix_cache_hit_rate,
            "spec_decode_acceptance_rate": self.spec_acceptance_rate,
            "spec_decode_mean_accepted_length": self.spec_mean_accepted_length,
            "prompt_tokens": increase(self.prompt_tokens),
            "generation_tokens": increase(self.generation_tokens),
            "prompt_tokens_per_s": per_s(self.prompt_tokens),
            "generation_tokens_per_s": per_s(self.generation_tokens),
            "prompt_tokens_computed": increase(self.prompt_tokens_computed),
            "prompt_tokens_computed_per_s": per_s(self.prompt_tokens_computed),
            "prompt_tokens_cached": increase(self.prompt_tokens_cached),
            "prompt_cache_share": self.prompt_cache_share,
            "counter_span_s": None if span is None else [span.from_s, span.to_s],
            "ttft": histogram(self.ttft),
            "itl": histogram(self.itl),
        }


@dataclass(frozen=True)
class ServerStageSummary:
    """The derived server metrics of one stage: its window, the scrapes inside it, one entry per
    known server found in the series (none when only unknown names were scraped)."""

    window: StageWindow
    scrapes: int
    servers: tuple[ServerDerived, ...]

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "start_s": self.window.start_s,
            "end_s": self.window.end_s,
            "scrapes": self.scrapes,
            "servers": {derived.server: derived.to_json_dict() for derived in self.servers},
        }


def derive(series: ServerSeries, window: StageWindow) -> ServerStageSummary:
    """The derived server metrics of ``window`` from the scraped ``series``."""
    view = SeriesView(series)
    inside = int(np.count_nonzero(window.holds(series.scrape_times_s)))
    servers = tuple(_derive_server(view, names, window) for names in servers_present(series.names()))
    return ServerStageSummary(window, inside, servers)


@dataclass(frozen=True)
class GaugeSeries:
    """A known server's gauges over the run, for plotting: (scrape times in perf_counter s, values)
    of ``running`` and ``waiting`` requests and ``kv_usage`` (0..1); None where not exposed."""

    server: str
    running: tuple[np.ndarray, np.ndarray] | None
    waiting: tuple[np.ndarray, np.ndarray] | None
    kv_usage: tuple[np.ndarray, np.ndarray] | None


def gauge_series(series: ServerSeries) -> list[GaugeSeries]:
    """The gauges of every known server in ``series`` over time."""
    view = SeriesView(series)
    return [
        GaugeSeries(
            names.server,
            view.gauge_points(names.running, average=False),
            view.gauge_points(names.waiting, average=False),
            view.gauge_points(names.kv_usage, average=True),
        )
        for names in servers_present(series.names())
    ]


def _derive_server(view: SeriesView, names: ServerNames, window: StageWindow) -> ServerDerived:
    counters = {
        field: view.counter(getattr(names, field), window)
        for field in ("prompt_tokens", "prompt_tokens_computed", "prompt_tokens_cached", "generation_tokens", "prefix_hits", "prefix_queries", "spec_drafts",
                      "spec_draft_tokens", "spec_accepted_tokens")
    }
    gauges = {
        field: view.gauge(getattr(names, field), window, average=field in FRACTION_GAUGES)
        for field in ("running", "waiting", "kv_usage", "prefix_hit_rate", "spec_accept_rate", "spec_accept_length")
    }
    accepted = counters["spec_accepted_tokens"]
    return ServerDerived(
        server=names.server,
        running=gauges["running"],
        waiting=gauges["waiting"],
        kv_cache_usage=gauges["kv_usage"],
        prefix_cache_hit_rate=_ratio(counters["prefix_hits"], counters["prefix_queries"])
        if counters["prefix_queries"] is not None else _mean(gauges["prefix_hit_rate"]),
        spec_acceptance_rate=_ratio(accepted, counters["spec_draft_tokens"])
        if counters["spec_draft_tokens"] is not None else _mean(gauges["spec_accept_rate"]),
        spec_mean_accepted_length=_accepted_length(accepted, counters["spec_drafts"])
        if counters["spec_drafts"] is not None else _mean(gauges["spec_accept_length"]),
        prompt_tokens=counters["prompt_tokens"],
        prompt_tokens_computed=counters["prompt_tokens_computed"],
        prompt_tokens_cached=counters["prompt_tokens_cached"],
        prompt_cache_share=_cache_share(
            counters["prompt_tokens_cached"], counters["prompt_tokens"], counters["prompt_tokens_computed"]
        ),
        generation_tokens=counters["generation_tokens"],
        ttft=view.histogram(names.ttft, window),
        itl=view.histogram(names.itl, window),
    )


def _cache_share(
    cached: CounterIncrease | None, every: CounterIncrease | None, computed: CounterIncrease | None
) -> float | None:
    """The share of prompt tokens served from a cache: cached / all prompt tokens, where ``all`` is the
    server's count of every prompt token, else its computed tokens plus the cached ones."""
    if cached is None:
        return None
    if every is not None:
        return _ratio(cached, every)
    if computed is None:
        return None
    whole = computed.increase + cached.increase
    return cached.increase / whole if whole > 0 else None


def _ratio(part: CounterIncrease | None, whole: CounterIncrease | None) -> float | None:
    if part is None or whole is None or whole.increase <= 0:
        return None
    return part.increase / whole.increase


def _accepted_length(accepted: CounterIncrease | None, drafts: CounterIncrease | None) -> float | None:
    """Tokens a verification step yields: the accepted draft tokens per draft round, plus the one token
    the target model adds."""
    rate = _ratio(accepted, drafts)
    return None if rate is None else 1.0 + rate


def _mean(stats: GaugeStats | None) -> float | None:
    return None if stats is None else stats.mean


class SeriesView:
    """The series indexed by sample name."""

    def __init__(self, series: ServerSeries) -> None:
        self.series = series
        self._rows: dict[str, np.ndarray] = {}
        if len(series):
            names, inverse = np.unique(series.name.astype(str), return_inverse=True)
            order = np.argsort(inverse, kind="stable")
            bounds = np.searchsorted(inverse[order], np.arange(len(names) + 1))
            self._rows = {str(name): order[bounds[i]:bounds[i + 1]] for i, name in enumerate(names)}

    def rows(self, selectors: tuple[Selector, ...]) -> np.ndarray | None:
        """The rows of the first selector present (None when none is)."""
        for selector in selectors:
            rows = self._rows.get(selector.name)
            if rows is None:
                continue
            if selector.label is not None:
                token = ',{}="{}",'.format(*selector.label)
                rows = rows[[token in f",{labels}," for labels in self.series.labels[rows].tolist()]]
            if len(rows):
                return rows
        return None

    def gauge(self, selectors: tuple[Selector, ...], window: StageWindow, *, average: bool) -> GaugeStats | None:
        points = self.gauge_points(selectors, average=average)
        if points is None:
            return None
        times, values = points
        values = values[window.holds(times)]
        if not len(values):
            return None
        return GaugeStats(float(values.mean()), float(values.max()), len(values))

    def gauge_points(self, selectors: tuple[Selector, ...], *, average: bool) -> tuple[np.ndarray, np.ndarray] | None:
        """(scrape times, value at each) of a gauge: its label sets added up (``average``: averaged)."""
        rows = self.rows(selectors)
        if rows is None:
            return None
        times, at_time = np.unique(self.series.t_s[rows], return_inverse=True)
        totals: np.ndarray = np.bincount(at_time, weights=self.series.value[rows], minlength=len(times))
        if average:
            totals = totals / np.bincount(at_time, minlength=len(times))
        return times, totals

    def counter(self, selectors: tuple[Selector, ...], window: StageWindow) -> CounterIncrease | None:
        rows = self.rows(selectors)
        return None if rows is None else self._increase(rows, window)

    def _increase(self, rows: np.ndarray, window: StageWindow) -> CounterIncrease | None:
        span = _counter_span(np.unique(self.series.t_s[rows]), window)
        if span is None:
            return None
        total = sum(self._label_set_increases(rows, span).values())
        return CounterIncrease(float(total), *span)

    def _label_set_increases(self, rows: np.ndarray, span: tuple[float, float]) -> dict[str, float]:
        """Reset-aware increase over ``span`` of each label set of ``rows``."""
        t_s = self.series.t_s[rows]
        rows = rows[(t_s >= span[0]) & (t_s <= span[1])]
        increases: dict[str, float] = {}
        labels = self.series.labels[rows]
        for label_set in np.unique(labels.astype(str)).tolist():
            values = self.series.value[rows[labels == label_set]]
            steps = np.diff(values)
            increases[label_set] = float(np.where(steps >= 0, steps, values[1:]).sum())
        return increases

    def histogram(self, bases: tuple[str, ...], window: StageWindow) -> HistogramStats | None:
        for base in bases:
            rows = self._rows.get(f"{base}_bucket")
            if rows is not None:
                return self._histogram(base, rows, window)
        return None

    def _histogram(self, base: str, rows: np.ndarray, window: StageWindow) -> HistogramStats | None:
        span = _counter_span(np.unique(self.series.t_s[rows]), window)
        if span is None:
            return None
        by_bound: dict[float, float] = {}
        for label_set, increase in self._label_set_increases(rows, span).items():
            bound = _le_of(label_set)
            if bound is not None:
                by_bound[bound] = by_bound.get(bound, 0.0) + increase
        bounds = np.array(sorted(by_bound), dtype=np.float64)
        cumulative = np.array([by_bound[b] for b in bounds.tolist()], dtype=np.float64)
        count = float(cumulative[-1]) if len(cumulative) else 0.0
        sum_rows = self._rows.get(f"{base}_sum")
        total = self._increase(sum_rows, window) if sum_rows is not None else None
        mean_s = total.increase / count if total is not None and count > 0 else None
        quantiles = {f"p{round(q * 100):d}_s": bucket_quantile(q, bounds, cumulative) for q in HISTOGRAM_QUANTILES}
        return HistogramStats(count, mean_s, quantiles)


def _counter_span(times: np.ndarray, window: StageWindow) -> tuple[float, float] | None:
    """(last sample time <= start, first sample time >= end), the nearest inside when none is outside."""
    if len(times) < 2:
        return None
    before = times[times <= window.start_s]
    after = times[times >= window.end_s]
    lo = float(before[-1]) if len(before) else float(times[0])
    hi = float(after[0]) if len(after) else float(times[-1])
    return (lo, hi) if hi > lo else None


def _le_of(label_set: str) -> float | None:
    for pair in label_set.split(","):
        if pair.startswith('le="') and pair.endswith('"'):
            return float(pair[4:-1])
    return None


def bucket_quantile(q: float, bounds: np.ndarray, cumulative: np.ndarray) -> float | None:
    """The ``q`` quantile of observations counted in cumulative buckets (upper ``bounds`` ascending,
    the last ``+Inf``): linear inside the bucket that holds rank ``q * count`` (its lower edge the
    previous bound, 0 for the first); the largest finite bound when that bucket is ``+Inf``."""
    if not len(cumulative) or cumulative[-1] <= 0:
        return None
    rank = q * float(cumulative[-1])
    index = int(np.searchsorted(cumulative, rank, side="left"))
    index = min(index, len(cumulative) - 1)
    upper = float(bounds[index])
    if np.isinf(upper):
        finite = bounds[np.isfinite(bounds)]
        return float(finite[-1]) if len(finite) else None
    lower = float(bounds[index - 1]) if index > 0 else 0.0
    below = float(cumulative[index - 1]) if index > 0 else 0.0
    inside = float(cumulative[index]) - below
    if inside <= 0:
        return upper
    return lower + (upper - lower) * (rank - below) / inside
