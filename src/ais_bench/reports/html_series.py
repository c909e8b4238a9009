"""The time-series rows of the report's figure (latency over time, throughput) and the figure of the
distributions (histogram and CDF per metric), built from ``plot_series``.

A latency row shows each request as a point (runs of at most ``PER_REQUEST_LIMIT`` requests) or, for
larger runs, the density of the values per time bin (a heatmap: colour = count), and in both cases
the rolling p50 and p99 as lines: at each bin, over the window of ``2 * ROLLING_HALF_BINS + 1`` bins
centred on it (exact up to ``PER_REQUEST_LIMIT`` requests, from a ``ValueSketch`` beyond).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ais_bench.reports.plot_series import (
    HISTOGRAM_TOP_PERCENTILE,
    SERIES_PERCENTILES,
    Distribution,
    Throughput,
    TimeBins,
    build_density,
    rolling_percentiles,
    rolling_window_s,
)
from ais_bench.reports.plotly_figure import Figure, add_trace, grid_axes, new_figure, time_coords

#: Colour of each latency metric (points, density, bars, CDF).
METRIC_COLOURS = {"ttft": "#d62728", "tpot": "#8c564b", "itl": "#1f77b4", "e2el": "#9467bd"}
METRIC_NAMES = {"ttft": "TTFT", "tpot": "TPOT", "itl": "ITL", "e2el": "E2EL"}
#: Line colours of the binned percentiles (p50, p99).
PERCENTILE_COLOURS = ("#222222", "#e377c2")
SERIES_COLOURS = {"tokens": "#ff7f0e", "requests": "#17becf", "failed": "#7f7f7f"}


@dataclass(frozen=True, slots=True)
class LatencySeries:
    """What one latency row draws: ``values_ms`` at ``time_rel_s`` (density and percentiles),
    ``points`` (time, ms) drawn one per request when not binned, ``top_ms`` the density's top."""

    metric: str
    time_rel_s: np.ndarray
    values_ms: np.ndarray
    points: tuple[np.ndarray, np.ndarray]
    top_ms: float
    point_label: str


def add_latency_row(figure: Figure, cell: int, series: LatencySeries, bins: TimeBins, *, binned: bool,
                    span_s: float) -> None:
    name = METRIC_NAMES[series.metric]
    colour = METRIC_COLOURS[series.metric]
    if binned:
        density = build_density(bins, series.time_rel_s, series.values_ms, series.top_ms)
        counts = density.counts.astype(np.float32)
        counts[counts == 0] = np.nan  # empty cells stay transparent
        add_trace(figure, {
            "type": "heatmap", "x": bins.centres_rel_s, "y": (density.value_edges[:-1] + density.value_edges[1:]) / 2,
            "z": counts, "name": f"{name} density", "showscale": False, "hoverongaps": False, "opacity": 0.85,
            "colorscale": [[0, "#f2f2f2"], [1, colour]],
            "hovertemplate": f"%{{x:.1f}} s, %{{y:.1f}} ms: %{{z}} values<extra>{name}</extra>",
        }, cell)
    else:
        x, y = series.points
        add_trace(figure, {
            "type": "scattergl", "x": time_coords(x, span_s), "y": y.astype(np.float32), "mode": "markers",
            "name": series.point_label, "marker": {"size": 3, "color": colour, "opacity": 0.5},
            "hovertemplate": f"%{{x:.3f}} s: %{{y:.2f}} ms<extra>{series.point_label}</extra>",
        }, cell)
    levels = rolling_percentiles(bins, series.time_rel_s, series.values_ms, exact=not binned)
    for column, (q, line_colour) in enumerate(zip(SERIES_PERCENTILES, PERCENTILE_COLOURS, strict=True)):
        label = f"{name} p{q:g} over a rolling {rolling_window_s(bins):g} s"
        add_trace(figure, {
            "type": "scatter", "x": bins.centres_rel_s, "y": levels[:, column], "mode": "lines+markers",
            "name": label, "line": {"color": line_colour, "width": 2}, "marker": {"size": 4},
            "connectgaps": False, "hovertemplate": f"%{{x:.2f}} s: %{{y:.2f}} ms<extra>{label}</extra>",
        }, cell)


def _step(bins: TimeBins, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A per-bin series as a step line over the bin edges (drawn with ``shape="hv"``)."""
    return bins.edges_rel_s, np.append(values, values[-1])


def add_throughput_rows(figure: Figure, tokens_cell: int, requests_cell: int, throughput: Throughput,
                        bins: TimeBins) -> None:
    series: list[tuple[int, str, np.ndarray, str, str]] = [
        (tokens_cell, "tokens", throughput.output_tokens_per_s, "Output tokens/s", "token/s"),
        (requests_cell, "requests", throughput.requests_per_s, "Requests completed/s", "req/s"),
    ]
    if throughput.failed_per_s.any():
        series.append((requests_cell, "failed", throughput.failed_per_s, "Requests failed/s", "req/s"))
    for cell, key, values, label, unit in series:
        x, y = _step(bins, values)
        name = f"{label} (per {bins.width_s:g} s)"
        add_trace(figure, {
            "type": "scatter", "x": x, "y": y, "mode": "lines", "name": name,
            "line": {"color": SERIES_COLOURS[key], "shape": "hv", "width": 2},
            "hovertemplate": f"%{{x:.2f}} s: %{{y:.2f}} {unit}<extra>{label}</extra>",
        }, cell)


def build_distribution_figure(distributions: dict[str, Distribution]) -> Figure:
    """Histograms (top row) and CDFs (bottom row), one column per metric in ``distributions``."""
    metrics = list(distributions)
    names = [METRIC_NAMES[m] for m in metrics]
    counted = ["Gaps" if m == "itl" else "Requests" for m in metrics]
    axes = grid_axes(
        [f"{n} histogram" for n in names] + [f"{n} CDF" for n in names],
        [f"{n} (ms)" for n in names] * 2,
        counted + ["Share at or below"] * len(metrics),
        columns=len(metrics),
    )
    figure = new_figure(820, axes)
    for column, metric in enumerate(metrics, start=1):
        _add_distribution(figure, metric, distributions[metric], column, column + len(metrics))
    return figure


def _add_distribution(figure: Figure, metric: str, dist: Distribution, bar_cell: int, cdf_cell: int) -> None:
    name, colour = METRIC_NAMES[metric], METRIC_COLOURS[metric]
    unit = "gaps" if metric == "itl" else "requests"
    bars: dict[str, Any] = {
        "type": "bar", "x": ((dist.edges[:-1] + dist.edges[1:]) / 2).astype(np.float32),
        "y": dist.counts.astype(np.int32), "width": float(dist.edges[1] - dist.edges[0]),
        "name": f"{name} histogram ({dist.size} {unit}; the last bar holds those above p{HISTOGRAM_TOP_PERCENTILE:g})",
        "marker": {"color": colour}, "showlegend": False,
        "hovertemplate": f"%{{x:.2f}} ms: %{{y}} {unit}<extra>{name}</extra>",
    }
    add_trace(figure, bars, bar_cell)
    add_trace(figure, {
        "type": "scatter", "x": dist.cdf_value, "y": dist.cdf_share, "mode": "lines", "name": f"{name} CDF",
        "line": {"color": colour, "width": 2}, "showlegend": False,
        "hovertemplate": f"%{{y:.1%}} at or below %{{x:.2f}} ms<extra>{name}</extra>",
    }, cdf_cell)
