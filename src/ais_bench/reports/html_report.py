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
trace, so 100,000 requests stay usable (see ``_add_timeline``). Plotly is imported only here, when
a report is written. The data shaping is in ``plot_data``, the page around the figure in
``html_page``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

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

if TYPE_CHECKING:
    import plotly.graph_objects as go

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
    figure_html = figure.to_html(
        full_html=False,
        include_plotlyjs=True,
        div_id=_PLOT_DIV_ID,
        config={"scrollZoom": True, "displaylogo": False, "responsive": True},
    )
    target = Path(path)
    write_text(target, render_page(title or target.stem, render_summary(summary), figure_html))
    return target


def build_figure(
    table: RequestTable, *, stream: bool, window: StableWindow | None = None, scheduled_s: np.ndarray | None = None
) -> go.Figure:
    """The Plotly figure of the report (see the module docstring)."""
    from plotly.subplots import make_subplots

    origin_s = first_send_s(table)
    timeline = build_timeline(table, stream=stream, origin_s=origin_s)
    end_rel_s = timeline.start_rel_s + timeline.e2el_s
    ok = timeline.success
    successful = build_inflight_steps(timeline.start_rel_s[ok], end_rel_s[ok], origin_s=0.0)
    rate = build_send_rate(scheduled_s, table.start_s, origin_s=origin_s)
    titles = ["Requests by start time", "Requests in flight"] + (["Send rate"] if rate is not None else [])
    rows = len(titles)
    figure = make_subplots(
        rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.05, subplot_titles=titles,
        row_heights=[0.6, 0.25, 0.15] if rows == 3 else [0.7, 0.3],
    )
    span_s = float(np.nanmax(end_rel_s)) if np.isfinite(end_rel_s).any() else 0.0
    _add_timeline(figure, timeline, stream, span_s)
    _add_inflight(figure, successful, timeline, span_s)
    if rate is not None:
        _add_send_rate(figure, rate, row=3)
    if window is not None:
        _add_window(figure, window, rows)
    figure.update_xaxes(title_text="Time after the first send (s)", row=rows, col=1)
    figure.update_yaxes(title_text="Request (rank by start time)", row=1, col=1)
    figure.update_yaxes(title_text="In flight", rangemode="tozero", row=2, col=1)
    if rate is not None:
        figure.update_yaxes(title_text="Requests/s", rangemode="tozero", row=3, col=1)
    figure.update_layout(
        height=1200 if rows == 2 else 1400,
        hovermode="closest",
        template="plotly_white",
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0},
        margin={"t": 80, "l": 70, "r": 30, "b": 60},
    )
    return figure


def _coords(values: np.ndarray, span_s: float) -> np.ndarray:
    """Time coordinates (s) as float32 for runs shorter than ``_FLOAT32_SPAN_S``, else float64."""
    return values.astype(np.float32) if span_s < _FLOAT32_SPAN_S else values


def _add_timeline(figure: go.Figure, timeline: RequestTimeline, stream: bool, span_s: float) -> None:
    """One trace per segment family: an invisible marker at each segment's start carrying a
    one-sided horizontal error bar as long as the segment (WebGL draws these as instanced
    rectangles: about half the bytes and half the drawing time of NaN-separated line arrays).
    Hovering a request's send shows its durations and tokens."""
    import plotly.graph_objects as go

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
        figure.add_trace(
            go.Scattergl(
                x=_coords(segments.start_rel_s, span_s), y=segments.rank.astype(np.float32), mode="markers",
                name=TRACE_NAMES[family], marker={"size": 6, "opacity": 0, "color": COLOURS[family]},
                error_x={
                    "type": "data", "symmetric": False, "width": 0, "thickness": 2, "color": COLOURS[family],
                    "array": (segments.end_rel_s - segments.start_rel_s).astype(np.float32),
                },
                showlegend=False, legendgroup=family, **hover,
            ),
            row=1, col=1,
        )
        # The legend entry: an empty line trace of the same group (an invisible marker would show faintly).
        figure.add_trace(
            go.Scatter(
                x=[None], y=[None], mode="lines", name=TRACE_NAMES[family], legendgroup=family,
                line={"color": COLOURS[family], "width": 3}, hoverinfo="skip",
            ),
            row=1, col=1,
        )


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


def _add_inflight(figure: go.Figure, successful: InFlightSteps, timeline: RequestTimeline, span_s: float) -> None:
    import plotly.graph_objects as go

    x, y = _step_xy(successful)
    figure.add_trace(
        go.Scattergl(
            x=_coords(x, span_s), y=y, mode="lines", line={"color": COLOURS["inflight"], "shape": "hv", "width": 1.5},
            fill="tozeroy" if len(x) <= _MAX_FILLED_STEPS else "none", name="In flight (successful requests)",
            hovertemplate="%{x:.4f} s: %{y} in flight<extra></extra>",
        ),
        row=2, col=1,
    )
    if timeline.success.all():
        return
    every = build_inflight_steps(timeline.start_rel_s, timeline.start_rel_s + timeline.e2el_s, origin_s=0.0)
    x, y = _step_xy(every)
    figure.add_trace(
        go.Scattergl(
            x=_coords(x, span_s), y=y, mode="lines", line={"color": COLOURS["inflight_all"], "shape": "hv", "width": 1, "dash": "dash"},
            name="In flight (all requests, failed included)",
            hovertemplate="%{x:.4f} s: %{y} in flight (all)<extra></extra>",
        ),
        row=2, col=1,
    )


def _add_send_rate(figure: go.Figure, rate: SendRate, row: int) -> None:
    import plotly.graph_objects as go

    x = rate.edges_rel_s
    for key, values, label in (
        ("expected", rate.expected_rps, "Planned sends/s"), ("actual", rate.actual_rps, "Actual sends/s")
    ):
        figure.add_trace(
            go.Scattergl(
                x=x, y=np.append(values, values[-1]), mode="lines",
                line={"color": COLOURS[key], "shape": "hv", "width": 2, "dash": "dot" if key == "expected" else "solid"},
                name=f"{label} ({rate.bin_s:g} s bins)",
                hovertemplate=f"%{{x:.3f}} s: %{{y:.2f}} req/s ({label.lower()})<extra></extra>",
            ),
            row=row, col=1,
        )


def _add_window(figure: go.Figure, window: StableWindow, rows: int) -> None:
    """Shade the steady window on every row, label it on the timeline, mark batch_size in flight."""
    for row in range(1, rows + 1):
        figure.add_vrect(
            x0=window.start_rel_s, x1=window.end_rel_s, fillcolor=COLOURS["window"], opacity=0.3,
            line_width=0, layer="below", row=row, col=1,
        )
    figure.add_annotation(
        x=window.start_rel_s, y=0.99, xref="x", yref="y domain", xanchor="left", yanchor="top",
        text=f"steady window {window.start_rel_s:.3f}–{window.end_rel_s:.3f} s ({window.share:.0%} of the run)",
        showarrow=False, font={"size": 12}, bgcolor="rgba(255,255,255,0.8)",
    )
    figure.add_hline(
        y=window.batch_size, line_dash="dot", line_color="#555", row=2, col=1,
        annotation_text=f"batch_size {window.batch_size}", annotation_position="top left",
    )
