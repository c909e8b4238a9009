"""The time figure of the concurrency report: its rows (see ``html_report``), the request timeline,
in flight, the send rate and the shaded steady window, from the data ``build_report_data`` shapes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ais_bench.metrics.per_request import compute_per_request
from ais_bench.metrics.stage import StableWindow
from ais_bench.records.record import RequestTable
from ais_bench.reports.html_series import LatencySeries, add_latency_row, add_throughput_rows
from ais_bench.reports.html_server import KV_ROW, REQUESTS_ROW, add_server_rows, has_kv_usage, has_requests
from ais_bench.reports.plot_data import (
    SEGMENT_FAMILIES,
    InFlightSteps,
    RequestTimeline,
    SendRate,
    build_inflight_steps,
    build_send_rate,
    build_timeline,
    first_send_s,
)
from ais_bench.reports.plot_series import (
    MAX_INFLIGHT_BINS,
    PER_REQUEST_LIMIT,
    Distribution,
    InFlightRange,
    Throughput,
    TimeBins,
    build_distribution,
    build_inflight_range,
    build_latency_points,
    build_throughput,
    build_time_bins,
    rolling_window_s,
)
from ais_bench.reports.plotly_figure import (
    Figure,
    add_trace,
    axis_name,
    new_figure,
    stacked_axes,
    time_coords,
)
from ais_bench.server_metrics.derive import GaugeSeries

#: Trace colours (also checked in the browser test's screenshot).
COLOURS = {
    "ttft": "#d62728",
    "decode": "#1f77b4",
    "whole": "#9467bd",
    "failed": "#ff7f0e",
    "inflight": "#2ca02c",
    "inflight_all": "#7f7f7f",
    "expected": "#7f7f7f",
    "actual": "#17becf",
    "window": "#ffd54f",
}
TRACE_NAMES = {
    "ttft": "TTFT (send → first event)",
    "decode": "Decode (first → last event)",
    "whole": "E2EL (send → response read)",
    "failed": "Failed (send → failure)",
}
#: Larger step charts are drawn without the fill under the line (filling costs more than drawing the line).
_MAX_FILLED_STEPS = 20_000
@dataclass(frozen=True, slots=True)
class _Row:
    """One row of the time figure: what it draws, its title, its y axis title, its height (px)."""

    key: str
    title: str
    y_title: str
    height_px: int


@dataclass(frozen=True, slots=True)
class ReportData:
    """Everything the two figures draw, shaped once (see ``build_report_data``)."""

    timeline: RequestTimeline
    span_s: float
    bins: TimeBins
    binned: bool
    latency: list[LatencySeries]
    throughput: Throughput
    distributions: dict[str, Distribution]
    rate: SendRate | None
    stream: bool
    origin_s: float = 0.0  # the first send (perf_counter s): time 0 of the x axis


def build_report_data(table: RequestTable, *, stream: bool, scheduled_s: np.ndarray | None = None) -> ReportData:
    origin_s = first_send_s(table)
    timeline = build_timeline(table, stream=stream, origin_s=origin_s)
    end_rel_s = timeline.start_rel_s + timeline.e2el_s
    span_s = float(np.nanmax(end_rel_s)) if np.isfinite(end_rel_s).any() else 0.0
    bins = build_time_bins(span_s)
    requests = compute_per_request(table, stream)
    points = build_latency_points(table, requests, origin_s=origin_s)
    distributions = {
        metric: dist for metric, values in (("ttft", points.ttft[1]), ("tpot", points.tpot_ms),
                                            ("itl", points.itl_gaps[1]), ("e2el", points.e2el[1]))
        if (dist := build_distribution(values)) is not None
    }
    latency = [
        LatencySeries(metric, *values, points=shown, top_ms=float(distributions[metric].edges[-1]), point_label=label)
        for metric, values, shown, label in (
            ("e2el", points.e2el, points.e2el, "E2EL per request"),
            ("ttft", points.ttft, points.ttft, "TTFT per request"),
            ("itl", points.itl_gaps, points.itl_mean, "Mean ITL per request (at mid-decode)"),
        ) if metric in distributions
    ]
    return ReportData(
        timeline=timeline, span_s=span_s, bins=bins, binned=len(timeline.start_rel_s) > PER_REQUEST_LIMIT,
        latency=latency, throughput=build_throughput(table, requests, bins, origin_s=origin_s),
        distributions=distributions, rate=build_send_rate(scheduled_s, table.start_s, origin_s=origin_s),
        stream=stream, origin_s=origin_s,
    )


def _rows(data: ReportData, server: list[GaugeSeries]) -> list[_Row]:
    """The rows of the time figure, top to bottom: the request timeline (or, binned, E2EL over
    time), TTFT and ITL over time (streaming), output tokens/s, requests/s, in flight, the server's
    requests and KV-cache usage (``--server-metrics``), send rate."""
    width = f"{data.bins.width_s:g} s"
    rolling = f"rolling p50/p99 over {rolling_window_s(data.bins):g} s"
    rows = [_Row("timeline", "Requests by start time", "Request (rank by start time)", 480)]
    latency_keys = {series.metric for series in data.latency}
    if data.binned:
        rows = [_Row("e2el", f"E2EL over time (density per {width}, {rolling})", "E2EL (ms)", 240)]
    rows += [
        _Row(key, f"{name} over time ({f'density per {width}' if data.binned else 'per request'}, {rolling})",
             f"{name} (ms)", 240)
        for key, name in (("ttft", "TTFT"), ("itl", "ITL")) if key in latency_keys
    ]
    rows += [
        _Row("tokens", f"Output tokens per second (per {width})", "token/s", 190),
        _Row("requests", f"Requests completed per second (per {width})", "req/s", 190),
        _Row("inflight", "Requests in flight", "In flight", 240),
    ]
    if has_requests(server):
        rows.append(_Row("server_requests", *REQUESTS_ROW, 190))
    if has_kv_usage(server):
        rows.append(_Row("server_kv", *KV_ROW, 190))
    if data.rate is not None:
        rows.append(_Row("rate", "Send rate", "Requests/s", 190))
    return rows


#: Space between two stacked rows (px) and the figure's margins (px).
_ROW_GAP_PX = 70
_MARGINS_PX = 140


def build_figure(
    table: RequestTable, *, stream: bool, window: StableWindow | None = None, scheduled_s: np.ndarray | None = None
) -> Figure:
    """The time figure of the report (see the module docstring)."""
    return build_time_figure(build_report_data(table, stream=stream, scheduled_s=scheduled_s), window)


def build_time_figure(
    data: ReportData, window: StableWindow | None = None, server: list[GaugeSeries] | None = None
) -> Figure:
    """``server``: the scraped gauges of the known servers (``--server-metrics``), drawn under in flight."""
    server = server or []
    rows = _rows(data, server)
    height = sum(row.height_px for row in rows) + _ROW_GAP_PX * (len(rows) - 1) + _MARGINS_PX
    figure = new_figure(height, stacked_axes(
        [row.height_px for row in rows], [row.title for row in rows], [row.y_title for row in rows],
        spacing=_ROW_GAP_PX / height,
    ))
    cell = {row.key: index for index, row in enumerate(rows, start=1)}
    timeline, span_s = data.timeline, data.span_s
    if "timeline" in cell:
        _add_timeline(figure, timeline, data.stream, span_s)
    for series in data.latency:
        if series.metric in cell:
            add_latency_row(figure, cell[series.metric], series, data.bins, binned=data.binned, span_s=span_s)
    add_throughput_rows(figure, cell["tokens"], cell["requests"], data.throughput, data.bins)
    _add_inflight(figure, data, cell["inflight"])
    if server:
        add_server_rows(figure, server, origin_s=data.origin_s, span_s=span_s,
                        requests_row=cell.get("server_requests"), kv_row=cell.get("server_kv"))
    if data.rate is not None:
        _add_send_rate(figure, data.rate, row=cell["rate"])
    if window is not None:
        _add_window(figure, window, len(rows), cell["inflight"])
    return figure


def _add_timeline(figure: Figure, timeline: RequestTimeline, stream: bool, span_s: float) -> None:
    """One trace per segment family: an invisible marker at each segment's start carrying a
    one-sided horizontal error bar as long as the segment (WebGL draws these as instanced
    rectangles: about half the bytes and half the drawing time of NaN-separated line arrays).
    Hovering a request's send shows its durations and tokens."""

    decode_s = timeline.e2el_s - timeline.ttft_s
    columns = np.column_stack(
        [timeline.ttft_s * 1000, decode_s * 1000, timeline.e2el_s * 1000, timeline.input_tokens,
         timeline.output_tokens]
    ).astype(np.float32)
    for family in SEGMENT_FAMILIES:
        segments = timeline.family(family)
        if len(segments) == 0 and not (family in ("ttft", "decode") and stream):
            continue
        hover: dict[str, Any] = {"hoverinfo": "skip"}
        if family != "decode":  # the TTFT marker at the same row already describes the request
            hover = {"customdata": columns[segments.rank], "hovertemplate": _hover_template(family, stream)}
        add_trace(figure, {
            "type": "scattergl", "x": time_coords(segments.start_rel_s, span_s), "y": segments.rank.astype(np.float32),
            "mode": "markers", "name": TRACE_NAMES[family],
            "marker": {"size": 6, "opacity": 0, "color": COLOURS[family]},
            "error_x": {
                "type": "data", "symmetric": False, "width": 0, "thickness": 2, "color": COLOURS[family],
                "array": (segments.end_rel_s - segments.start_rel_s).astype(np.float32),
            },
            "showlegend": False, "legendgroup": family, **hover,
        }, 1)
        # The legend entry: an empty line trace of the same group (an invisible marker would show faintly).
        add_trace(figure, {
            "type": "scatter", "x": [None], "y": [None], "mode": "lines", "name": TRACE_NAMES[family],
            "legendgroup": family, "line": {"color": COLOURS[family], "width": 3}, "hoverinfo": "skip",
        }, 1)


def _hover_template(family: str, stream: bool) -> str:
    at = "request %{y}, sent at %{x:.4f} s<br>"
    if family == "failed":
        return at + "FAILED after %{customdata[2]:.1f} ms<extra></extra>"
    timing = "TTFT %{customdata[0]:.1f} ms<br>Decode %{customdata[1]:.1f} ms<br>" if stream else ""
    return at + timing + "E2EL %{customdata[2]:.1f} ms<br>tokens: %{customdata[3]} in, %{customdata[4]} out<extra></extra>"


def _step_xy(steps: InFlightSteps) -> tuple[np.ndarray, np.ndarray]:
    """Step arrays starting from 0 in flight just before the first event (drawn with ``shape="hv"``)."""
    if steps.time_rel_s.size == 0:
        return np.zeros(0), np.zeros(0, dtype=np.int32)
    x = np.concatenate([steps.time_rel_s[:1], steps.time_rel_s])
    y = np.concatenate([[0], steps.count]).astype(np.int32)
    return x, y


def _add_inflight(figure: Figure, data: ReportData, row: int) -> None:
    """In flight over time: successful requests, and all requests (dashed) when some failed. Binned
    reports draw each count's range per bin instead of every step (2M steps for 1M requests)."""
    timeline = data.timeline
    end_rel_s = timeline.start_rel_s + timeline.e2el_s
    ok = timeline.success
    every = [
        ("inflight", build_inflight_steps(timeline.start_rel_s[ok], end_rel_s[ok], origin_s=0.0), "successful requests")
    ]
    if not ok.all():
        every.append(("inflight_all", build_inflight_steps(timeline.start_rel_s, end_rel_s, origin_s=0.0),
                      "all requests, failed included"))
    for key, steps, label in every:
        if data.binned:
            _add_inflight_range(figure, build_inflight_range(steps, build_time_bins(data.span_s, MAX_INFLIGHT_BINS)),
                                key, label, row)
        else:
            _add_inflight_steps(figure, steps, key, label, data.span_s, row)


def _add_inflight_steps(figure: Figure, steps: InFlightSteps, key: str, label: str, span_s: float, row: int) -> None:
    x, y = _step_xy(steps)
    main = key == "inflight"
    add_trace(figure, {
        "type": "scattergl", "x": time_coords(x, span_s), "y": y, "mode": "lines",
        "line": {"color": COLOURS[key], "shape": "hv", "width": 1.5 if main else 1, "dash": "solid" if main else "dash"},
        "fill": "tozeroy" if main and len(x) <= _MAX_FILLED_STEPS else "none", "name": f"In flight ({label})",
        "hovertemplate": f"%{{x:.4f}} s: %{{y}} in flight<extra>{label}</extra>",
    }, row)


def _add_inflight_range(figure: Figure, span: InFlightRange, key: str, label: str, row: int) -> None:
    """The lowest and highest count of each bin as two step lines, the band between them filled."""
    x = span.bins.edges_rel_s
    width = f"{span.bins.width_s:g} s"
    for values, end, fill in ((span.low, "lowest", "none"), (span.high, "highest", "tonexty")):
        add_trace(figure, {
            "type": "scatter", "x": x, "y": np.append(values, values[-1]).astype(np.int32), "mode": "lines",
            "line": {"color": COLOURS[key], "shape": "hv", "width": 1, "dash": "solid" if key == "inflight" else "dash"},
            "fill": fill if key == "inflight" else "none", "name": f"In flight ({label}), {end} per {width}",
            "hovertemplate": f"%{{x:.2f}} s: {end} %{{y}} in flight<extra>{label}</extra>",
        }, row)


def _add_send_rate(figure: Figure, rate: SendRate, row: int) -> None:
    x = rate.edges_rel_s
    for key, values, label in (
        ("expected", rate.expected_rps, "Planned sends/s"), ("actual", rate.actual_rps, "Actual sends/s")
    ):
        add_trace(figure, {
            "type": "scattergl", "x": x, "y": np.append(values, values[-1]), "mode": "lines",
            "line": {"color": COLOURS[key], "shape": "hv", "width": 2, "dash": "dot" if key == "expected" else "solid"},
            "name": f"{label} ({rate.bin_s:g} s bins)",
            "hovertemplate": f"%{{x:.3f}} s: %{{y:.2f}} req/s ({label.lower()})<extra></extra>",
        }, row)


def _add_window(figure: Figure, window: StableWindow, rows: int, inflight_row: int) -> None:
    """Shade the steady window on every row, label it on the top row, mark batch_size in flight."""
    layout = figure["layout"]
    x_inflight, y_inflight = axis_name("x", inflight_row), axis_name("y", inflight_row)
    for row in range(1, rows + 1):
        layout["shapes"].append({
            "type": "rect", "x0": window.start_rel_s, "x1": window.end_rel_s, "xref": axis_name("x", row),
            "y0": 0, "y1": 1, "yref": f"{axis_name('y', row)} domain", "fillcolor": COLOURS["window"], "opacity": 0.3,
            "line": {"width": 0}, "layer": "below",
        })
    layout["annotations"].append({
        "x": window.start_rel_s, "y": 0.99, "xref": "x", "yref": "y domain", "xanchor": "left", "yanchor": "top",
        "text": f"steady window {window.start_rel_s:.3f}–{window.end_rel_s:.3f} s ({window.share:.0%} of the run)",
        "showarrow": False, "font": {"size": 12}, "bgcolor": "rgba(255,255,255,0.8)",
    })
    layout["shapes"].append({
        "type": "line", "x0": 0, "x1": 1, "xref": f"{x_inflight} domain", "y0": window.batch_size,
        "y1": window.batch_size, "yref": y_inflight, "line": {"dash": "dot", "color": "#555"},
    })
    layout["annotations"].append({
        "x": 0, "xref": f"{x_inflight} domain", "xanchor": "left", "y": window.batch_size, "yref": y_inflight,
        "yanchor": "bottom",
        "text": f"batch_size {window.batch_size}", "showarrow": False,
    })
