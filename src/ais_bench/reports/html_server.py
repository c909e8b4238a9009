"""The server's gauges in the concurrency report (``--server-metrics``): running and waiting requests
and KV-cache usage over time, in rows under the client's in-flight chart (the steady window shaded
across them like every row). One trace per known server and gauge, a point per scrape."""

from __future__ import annotations

from ais_bench.reports.plotly_figure import Figure, add_trace, time_coords
from ais_bench.server_metrics.derive import GaugeSeries

#: Row titles and y-axis titles of the two server rows.
REQUESTS_ROW = ("Server: requests running and waiting (its /metrics, per scrape)", "Requests")
KV_ROW = ("Server: KV-cache usage (its /metrics, per scrape)", "KV cache (%)")
_COLOURS = {"running": "#8c564b", "waiting": "#e377c2", "kv_usage": "#bcbd22"}
_DASH = {"running": "solid", "waiting": "dot", "kv_usage": "solid"}


def has_requests(gauges: list[GaugeSeries]) -> bool:
    return any(g.running is not None or g.waiting is not None for g in gauges)


def has_kv_usage(gauges: list[GaugeSeries]) -> bool:
    return any(g.kv_usage is not None for g in gauges)


def add_server_rows(
    figure: Figure, gauges: list[GaugeSeries], *, origin_s: float, span_s: float,
    requests_row: int | None, kv_row: int | None,
) -> None:
    """Draw each server's gauges: requests in ``requests_row``, KV usage (in %) in ``kv_row``."""
    for gauge in gauges:
        for key, points, row, scale, unit in (
            ("running", gauge.running, requests_row, 1.0, ""),
            ("waiting", gauge.waiting, requests_row, 1.0, ""),
            ("kv_usage", gauge.kv_usage, kv_row, 100.0, " %"),
        ):
            if points is None or row is None:
                continue
            times_s, values = points
            label = f"{gauge.server} {key.replace('_', ' ')}"
            add_trace(figure, {
                "type": "scatter", "x": time_coords(times_s - origin_s, span_s), "y": values * scale,
                "mode": "lines+markers", "name": f"Server: {label}",
                "line": {"color": _COLOURS[key], "width": 1.5, "dash": _DASH[key]},
                "marker": {"size": 4, "color": _COLOURS[key]},
                "hovertemplate": f"%{{x:.2f}} s: %{{y:.4g}}{unit}<extra>{label}</extra>",
            }, row)
