"""The concurrency report ``<ds>_plot.html``: one self-contained file that works offline.

Top to bottom: the summary panel (common metrics, per-request statistics, steady window, warnings;
"not available" when the metrics could not be computed), then one Plotly figure with a shared x
axis in seconds after the first send:

1. request timeline: each request is a horizontal line at its rank by start time; successful
   streaming requests in two colours (TTFT = send -> first event, decode = first -> last event),
   successful non-streaming requests in one, failed requests (send -> failure seen) in a third;
   hovering a request's start shows TTFT, decode time, E2EL and token counts;
2. in-flight successful requests over time (step chart; the count the steady stage is found from),
   plus every request including failed ones as a dashed line when some failed;
3. when the load was paced: planned vs actual sends per second.

The steady window (stable_stage) is shaded across all rows. Plotly.js is embedded in the file
(about 4.8 MB), every data trace is WebGL (``Scattergl``) and each segment family (colour) is ONE
trace, so 100,000 requests stay usable (see ``_add_timeline``). The figure is written as Plotly.js
JSON directly (numpy arrays as base64 typed arrays), without importing plotly's Python package (whose
figure objects validate every value: a tenth of a second per report); only its plotly.js bundle is
read. The data shaping is in ``plot_data``, the page around the figure in ``html_page``.
"""

from __future__ import annotations

import base64
import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from ais_bench.errors import OutputError
from ais_bench.metrics.stage import StableWindow
from ais_bench.metrics.summary import PerfSummary
from ais_bench.records.record import RequestTable
from ais_bench.reports.cells import write_text
from ais_bench.reports.html_page import render_page, render_summary
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

#: A Plotly.js figure: ``{"data": [trace, ...], "layout": {...}}`` (numpy arrays allowed anywhere).
Figure = dict[str, Any]

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
#: Runs shorter than this store time coordinates as float32 (spacing <= 2**-13 s = 0.12 ms, half the
#: bytes in the file); longer runs keep float64. Hover durations are computed before the cast.
_FLOAT32_SPAN_S = 2048.0
#: Larger step charts are drawn without the fill under the line (filling costs more than drawing the line).
_MAX_FILLED_STEPS = 20_000
#: The id of the figure's <div> (the browser test looks it up).
_PLOT_DIV_ID = "ais-bench-plot"


def write_plot(
    path: str | Path,
    table: RequestTable,
    *,
    stream: bool,
    summary: PerfSummary | None = None,
    scheduled_s: np.ndarray | None = None,
    title: str = "",
) -> Path:
    """Write the report to ``path`` and return it.

    ``table``: the run's ``RequestTable`` (any row order, final token counts).
    ``scheduled_s``: planned send time per row (perf_counter s, NaN = not paced), or None.
    ``summary``: the run's ``PerfSummary`` when the metrics were computed (adds the summary panel
    and, for stable_stage, the shaded steady window); None still writes the timeline.
    Raises ``OutputError`` when the file cannot be written.
    """
    window = summary.window if summary is not None else None
    figure = build_figure(table, stream=stream, window=window, scheduled_s=scheduled_s)
    target = Path(path)
    write_text(target, render_page(title or target.stem, render_summary(summary), figure_html(figure)))
    return target


def figure_html(figure: Figure) -> str:
    """The figure's ``<div>``, the embedded plotly.js and the script that draws it."""
    height = figure["layout"]["height"]
    config = {"scrollZoom": True, "displaylogo": False, "responsive": True}
    return (
        f'<div id="{_PLOT_DIV_ID}" class="plotly-graph-div" style="height:{height}px; width:100%;"></div>\n'
        f"<script>{plotly_js()}</script>\n"
        f'<script>Plotly.newPlot("{_PLOT_DIV_ID}", {_script_json(figure["data"])}, {_script_json(figure["layout"])}, '
        f"{_script_json(config)});</script>"
    )


def plotly_js() -> str:
    """The plotly.js bundle shipped in plotly's Python package (read, not imported)."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        raise OutputError("plotly is not installed: the concurrency report needs its plotly.js bundle",
                          hint="pip install plotly (a dependency of ais_bench)")
    bundle = Path(spec.submodule_search_locations[0]) / "package_data" / "plotly.min.js"
    return bundle.read_text(encoding="utf-8")


#: numpy dtypes as Plotly.js typed arrays name them.
_TYPED_ARRAY_DTYPES = {"float32": "f4", "float64": "f8", "int32": "i4", "int16": "i2", "int8": "i1", "uint8": "u1"}


def _typed_array(array: np.ndarray) -> dict[str, Any]:
    """A numpy array as a Plotly.js typed array (base64 of its little-endian bytes)."""
    if array.dtype.name not in _TYPED_ARRAY_DTYPES:
        array = array.astype(np.float64)
    spec: dict[str, Any] = {
        "dtype": _TYPED_ARRAY_DTYPES[array.dtype.name],
        "bdata": base64.b64encode(np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()).decode(),
    }
    if array.ndim > 1:
        spec["shape"] = ", ".join(str(n) for n in array.shape)
    return spec


def _json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return _typed_array(value)
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _script_json(value: Any) -> str:
    """JSON safe inside a ``<script>`` element (no ``</`` can close it)."""
    return orjson.dumps(value, default=_json_default).decode().replace("</", "<\\/")


def build_figure(
    table: RequestTable, *, stream: bool, window: StableWindow | None = None, scheduled_s: np.ndarray | None = None
) -> Figure:
    """The Plotly.js figure of the report (see the module docstring)."""
    origin_s = first_send_s(table)
    timeline = build_timeline(table, stream=stream, origin_s=origin_s)
    end_rel_s = timeline.start_rel_s + timeline.e2el_s
    ok = timeline.success
    successful = build_inflight_steps(timeline.start_rel_s[ok], end_rel_s[ok], origin_s=0.0)
    rate = build_send_rate(scheduled_s, table.start_s, origin_s=origin_s)
    titles = ["Requests by start time", "Requests in flight"] + (["Send rate"] if rate is not None else [])
    axis_titles = ["Request (rank by start time)", "In flight"] + (["Requests/s"] if rate is not None else [])
    rows = len(titles)
    figure: Figure = {
        "data": [],
        "layout": {
            "height": 1200 if rows == 2 else 1400,
            "hovermode": "closest",
            "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0},
            "margin": {"t": 80, "l": 70, "r": 30, "b": 60},
            "paper_bgcolor": "white",
            "plot_bgcolor": "white",
            "font": {"color": "#2a3f5f"},
            "hoverlabel": {"align": "left"},
            "shapes": [],
            "annotations": [],
            **_stacked_axes([0.6, 0.25, 0.15] if rows == 3 else [0.7, 0.3], titles, axis_titles),
        },
    }
    span_s = float(np.nanmax(end_rel_s)) if np.isfinite(end_rel_s).any() else 0.0
    _add_timeline(figure, timeline, stream, span_s)
    _add_inflight(figure, successful, timeline, span_s)
    if rate is not None:
        _add_send_rate(figure, rate, row=3)
    if window is not None:
        _add_window(figure, window, rows)
    return figure


#: The look of every axis: light grid lines on white.
_AXIS_STYLE = {"gridcolor": "#EBF0F8", "linecolor": "#EBF0F8", "zerolinecolor": "#EBF0F8", "zerolinewidth": 2,
               "ticks": "", "automargin": True}
#: Space between two stacked plots (fraction of the figure's height).
_ROW_SPACING = 0.05


def _stacked_axes(heights: list[float], titles: list[str], y_titles: list[str]) -> dict[str, Any]:
    """Layout of plots stacked in rows sharing one x axis (the last row's, which alone shows its
    labels): each row's x and y axis, and each row's title above it."""
    rows = len(heights)
    usable = 1.0 - _ROW_SPACING * (rows - 1)
    layout: dict[str, Any] = {"annotations": []}
    top = 1.0
    for row, (share, title, y_title) in enumerate(zip(heights, titles, y_titles, strict=True), start=1):
        bottom = max(top - share / sum(heights) * usable, 0.0)
        x_axis: dict[str, Any] = {"anchor": _axis("y", row), "domain": [0.0, 1.0], **_AXIS_STYLE}
        if row < rows:
            x_axis.update(matches=_axis("x", rows), showticklabels=False)
        else:
            x_axis["title"] = {"text": "Time after the first send (s)"}
        y_axis: dict[str, Any] = {"anchor": _axis("x", row), "domain": [bottom, top], "title": {"text": y_title},
                                  **_AXIS_STYLE}
        if row > 1:
            y_axis["rangemode"] = "tozero"
        layout[_axis("xaxis", row)] = x_axis
        layout[_axis("yaxis", row)] = y_axis
        layout["annotations"].append({
            "text": title, "x": 0.5, "xref": "paper", "xanchor": "center", "y": top, "yref": "paper",
            "yanchor": "bottom", "showarrow": False, "font": {"size": 16},
        })
        top = bottom - _ROW_SPACING
    return layout


def _axis(name: str, row: int) -> str:
    """The name of row ``row``'s axis: ``x``, ``x2``, ... (``xaxis``, ``xaxis2``, ... in the layout)."""
    return name if row == 1 else f"{name}{row}"


def _add_trace(figure: Figure, trace: dict[str, Any], row: int) -> None:
    figure["data"].append({**trace, "xaxis": _axis("x", row), "yaxis": _axis("y", row)})


def _coords(values: np.ndarray, span_s: float) -> np.ndarray:
    """Time coordinates (s) as float32 for runs shorter than ``_FLOAT32_SPAN_S``, else float64."""
    return values.astype(np.float32) if span_s < _FLOAT32_SPAN_S else values


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
        _add_trace(figure, {
            "type": "scattergl", "x": _coords(segments.start_rel_s, span_s), "y": segments.rank.astype(np.float32),
            "mode": "markers", "name": TRACE_NAMES[family],
            "marker": {"size": 6, "opacity": 0, "color": COLOURS[family]},
            "error_x": {
                "type": "data", "symmetric": False, "width": 0, "thickness": 2, "color": COLOURS[family],
                "array": (segments.end_rel_s - segments.start_rel_s).astype(np.float32),
            },
            "showlegend": False, "legendgroup": family, **hover,
        }, row=1)
        # The legend entry: an empty line trace of the same group (an invisible marker would show faintly).
        _add_trace(figure, {
            "type": "scatter", "x": [None], "y": [None], "mode": "lines", "name": TRACE_NAMES[family],
            "legendgroup": family, "line": {"color": COLOURS[family], "width": 3}, "hoverinfo": "skip",
        }, row=1)


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


def _add_inflight(figure: Figure, successful: InFlightSteps, timeline: RequestTimeline, span_s: float) -> None:
    x, y = _step_xy(successful)
    _add_trace(figure, {
        "type": "scattergl", "x": _coords(x, span_s), "y": y, "mode": "lines",
        "line": {"color": COLOURS["inflight"], "shape": "hv", "width": 1.5},
        "fill": "tozeroy" if len(x) <= _MAX_FILLED_STEPS else "none", "name": "In flight (successful requests)",
        "hovertemplate": "%{x:.4f} s: %{y} in flight<extra></extra>",
    }, row=2)
    if timeline.success.all():
        return
    every = build_inflight_steps(timeline.start_rel_s, timeline.start_rel_s + timeline.e2el_s, origin_s=0.0)
    x, y = _step_xy(every)
    _add_trace(figure, {
        "type": "scattergl", "x": _coords(x, span_s), "y": y, "mode": "lines",
        "line": {"color": COLOURS["inflight_all"], "shape": "hv", "width": 1, "dash": "dash"},
        "name": "In flight (all requests, failed included)",
        "hovertemplate": "%{x:.4f} s: %{y} in flight (all)<extra></extra>",
    }, row=2)


def _add_send_rate(figure: Figure, rate: SendRate, row: int) -> None:
    x = rate.edges_rel_s
    for key, values, label in (
        ("expected", rate.expected_rps, "Planned sends/s"), ("actual", rate.actual_rps, "Actual sends/s")
    ):
        _add_trace(figure, {
            "type": "scattergl", "x": x, "y": np.append(values, values[-1]), "mode": "lines",
            "line": {"color": COLOURS[key], "shape": "hv", "width": 2, "dash": "dot" if key == "expected" else "solid"},
            "name": f"{label} ({rate.bin_s:g} s bins)",
            "hovertemplate": f"%{{x:.3f}} s: %{{y:.2f}} req/s ({label.lower()})<extra></extra>",
        }, row=row)


def _add_window(figure: Figure, window: StableWindow, rows: int) -> None:
    """Shade the steady window on every row, label it on the timeline, mark batch_size in flight."""
    layout = figure["layout"]
    for row in range(1, rows + 1):
        layout["shapes"].append({
            "type": "rect", "x0": window.start_rel_s, "x1": window.end_rel_s, "xref": _axis("x", row),
            "y0": 0, "y1": 1, "yref": f"{_axis('y', row)} domain", "fillcolor": COLOURS["window"], "opacity": 0.3,
            "line": {"width": 0}, "layer": "below",
        })
    layout["annotations"].append({
        "x": window.start_rel_s, "y": 0.99, "xref": "x", "yref": "y domain", "xanchor": "left", "yanchor": "top",
        "text": f"steady window {window.start_rel_s:.3f}–{window.end_rel_s:.3f} s ({window.share:.0%} of the run)",
        "showarrow": False, "font": {"size": 12}, "bgcolor": "rgba(255,255,255,0.8)",
    })
    layout["shapes"].append({
        "type": "line", "x0": 0, "x1": 1, "xref": "x2 domain", "y0": window.batch_size, "y1": window.batch_size,
        "yref": "y2", "line": {"dash": "dot", "color": "#555"},
    })
    layout["annotations"].append({
        "x": 0, "xref": "x2 domain", "xanchor": "left", "y": window.batch_size, "yref": "y2", "yanchor": "bottom",
        "text": f"batch_size {window.batch_size}", "showarrow": False,
    })
