"""``compare.html`` of sweeps: the sweeps' curves overlaid on one self-contained page (offline).

Rows, one colour per sweep (the baseline first): TTFT, ITL and E2EL p50 (solid) and p99 (dashed)
against request throughput, each point a swept value; request throughput (solid) and goodput
(dotted) against the load; SLO attainment against the load (when a sweep has goodput). Each sweep's
knee is an ``x`` on its curves; a compared sweep's point whose difference from the baseline's is beyond
noise (the verdict of the row the curve draws) is ringed, red when slower, green when faster. The
curves are the points each ``sweep.json`` reports; the tables under the figure are every paired
point's rows.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from ais_bench.metrics.comparison import FASTER, SLOWER
from ais_bench.reports.cells import write_text
from ais_bench.reports.compare_html import PLOT_DIV_ID, compare_page, pair_table
from ais_bench.reports.compare_report import CONFIDENCE
from ais_bench.reports.plotly_figure import Figure, add_trace, grid_axes, new_figure
from ais_bench.sweep.comparison import SweepComparison, SweepResults

#: The latency plots: title -> (the curve's field, the comparison row) of p50 and p99.
LATENCY_PLOTS = {
    "TTFT": (("ttft_p50_ms", "ttft.p50"), ("ttft_p99_ms", "ttft.p99")),
    "ITL": (("itl_p50_ms", "itl.p50"), ("itl_p99_ms", "itl.p99")),
    "E2EL": (("e2el_p50_ms", "e2el.p50"), ("e2el_p99_ms", "e2el.p99")),
}
_DASHES = ("solid", "dash")
_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")
_VERDICT_COLOURS = {SLOWER: "#b22222", FASTER: "#2a7d2a"}
_PLOT_HEIGHT_PX = 300

__all__ = ["PLOT_DIV_ID", "build_sweep_compare_figure", "write_sweep_compare_html"]


def build_sweep_compare_figure(comparison: SweepComparison) -> Figure:
    """The figure (module doc): the latency rows, the throughput row, the attainment row when a sweep has goodput."""
    axis = comparison.axis.replace("_", " ")
    with_goodput = any(point.get("attainment") is not None for s in comparison.sweeps for point in s.curve())
    titles = [f"{name} against request throughput" for name in LATENCY_PLOTS]
    titles.append(f"Request throughput and goodput against {axis}")
    x_titles = ["request throughput (req/s)"] * len(LATENCY_PLOTS) + [axis]
    y_titles = [f"{name} (ms)" for name in LATENCY_PLOTS] + ["req/s"]
    if with_goodput:
        titles.append(f"SLO attainment against {axis}")
        x_titles.append(axis)
        y_titles.append("SLO attainment")
    figure = new_figure(len(titles) * _PLOT_HEIGHT_PX + 160, grid_axes(titles, x_titles, y_titles, columns=1,
                                                                        spacing=(0.0, 0.3 / len(titles))))
    for index, sweep in enumerate(comparison.sweeps):
        colour = _COLOURS[index % len(_COLOURS)]
        curve = sweep.curve()
        for cell, stats in enumerate(LATENCY_PLOTS.values(), start=1):
            for (field, _), dash in zip(stats, _DASHES, strict=True):
                _add_curve(figure, cell, sweep.label, field, curve, ("request_throughput", field), colour, dash, axis)
        load_cell = len(LATENCY_PLOTS) + 1
        _add_curve(figure, load_cell, sweep.label, "request throughput", curve, ("value", "request_throughput"),
                   colour, "solid", axis)
        if with_goodput:
            _add_curve(figure, load_cell, sweep.label, "goodput", curve, ("value", "goodput_req_s"), colour, "dot", axis)
            _add_curve(figure, load_cell + 1, sweep.label, "SLO attainment", curve, ("value", "attainment"), colour,
                       "solid", axis)
        _add_knee(figure, sweep, curve, colour, axis)
    for sweep in comparison.sweeps[1:]:
        _add_beyond_noise(figure, comparison, sweep, with_goodput)
    return figure


def _add_curve(
    figure: Figure, cell: int, label: str, what: str, curve: list[dict[str, Any]], fields: tuple[str, str],
    colour: str, dash: str, axis: str,
) -> None:
    points = [p for p in curve if p[fields[0]] is not None and p[fields[1]] is not None]
    if not points:
        return
    name = f"{label}: {what.replace('_ms', '').replace('_', ' ')}"
    add_trace(figure, {
        "type": "scatter", "mode": "lines+markers", "name": name, "legendgroup": label,
        "x": [p[fields[0]] for p in points], "y": [p[fields[1]] for p in points],
        "text": [f"{axis} {p['value']:g}" for p in points],
        "line": {"color": colour, "dash": dash, "width": 2}, "marker": {"color": colour, "size": 7},
        "hovertemplate": f"%{{text}}<br>%{{x:.4g}}, %{{y:.4g}}<extra>{html.escape(name)}</extra>",
    }, cell)


def _add_knee(figure: Figure, sweep: SweepResults, curve: list[dict[str, Any]], colour: str, axis: str) -> None:
    """An ``x`` on the sweep's p99 latency curves and its throughput curve at its knee."""
    knee = next((p for p in curve if p["value"] == sweep.knee), None)
    if knee is None:
        return
    spots = [(cell, knee["request_throughput"], knee[stats[1][0]])
             for cell, stats in enumerate(LATENCY_PLOTS.values(), start=1)]
    spots.append((len(LATENCY_PLOTS) + 1, knee["value"], knee["request_throughput"]))
    for number, (cell, x, y) in enumerate(spots):
        if x is None or y is None:
            continue
        add_trace(figure, {
            "type": "scatter", "mode": "markers", "name": f"{sweep.label}: knee ({axis} {knee['value']:g})",
            "legendgroup": f"{sweep.label} knee", "showlegend": number == 0, "x": [x], "y": [y],
            "marker": {"symbol": "x", "size": 14, "color": colour, "line": {"width": 1, "color": "#222"}},
            "hovertemplate": f"knee of {html.escape(sweep.label)}: {axis} {knee['value']:g}<extra></extra>",
        }, cell)


def _add_beyond_noise(figure: Figure, comparison: SweepComparison, sweep: SweepResults, with_goodput: bool) -> None:
    """Ring each point of ``sweep`` whose drawn statistic differs from the baseline's beyond noise."""
    curve = {p["value"]: p for p in sweep.curve()}
    verdicts = {
        (point.value, row.key): row
        for point in comparison.points if point.run == sweep.label
        for pair in point.pairs[:1]  # a sweep is of one model x dataset; the first pair is drawn
        for row in pair.rows
    }
    spots: list[tuple[int, str, str, str]] = [
        (cell, key, "request_throughput", field)
        for cell, stats in enumerate(LATENCY_PLOTS.values(), start=1) for field, key in stats
    ]
    spots.append((len(LATENCY_PLOTS) + 1, "request_throughput", "value", "request_throughput"))
    if with_goodput:
        spots += [(len(LATENCY_PLOTS) + 1, "goodput", "value", "goodput_req_s"),
                  (len(LATENCY_PLOTS) + 2, "slo_attainment", "value", "attainment")]
    axis = comparison.axis.replace("_", " ")
    marks: dict[tuple[int, str], list[tuple[Any, Any, str]]] = {}
    for cell, key, x_field, y_field in spots:
        for (value, row_key), row in verdicts.items():
            point = curve.get(value)
            if row_key != key or row.verdict not in _VERDICT_COLOURS or point is None:
                continue
            if point[x_field] is None or point[y_field] is None:
                continue
            change = "" if row.change_pct is None else f" ({row.change_pct:+.1f}%)"
            marks.setdefault((cell, row.verdict), []).append(
                (point[x_field], point[y_field], f"{axis} {value:g}: {key} {row.verdict}{change}"))
    for (cell, verdict), found in marks.items():
        add_trace(figure, {
            "type": "scatter", "mode": "markers", "name": f"{sweep.label}: {verdict} beyond noise",
            "legendgroup": f"{sweep.label} {verdict}", "showlegend": False,
            "x": [x for x, _, _ in found], "y": [y for _, y, _ in found], "text": [t for _, _, t in found],
            "marker": {"symbol": "circle-open", "size": 16, "color": _VERDICT_COLOURS[verdict], "line": {"width": 2}},
            "hovertemplate": "%{text}<extra></extra>",
        }, cell)


def write_sweep_compare_html(path: Path, comparison: SweepComparison) -> Path:
    """Write the page: title, help, the figure, then every paired point's table."""
    baseline = comparison.baseline.label
    axis = comparison.axis.replace("_", " ")
    title = f"ais_bench compare of sweeps over {axis}: baseline {baseline}"
    tables = "".join(
        pair_table(pair, baseline, f"{axis} {point.value:g}") for point in comparison.points for pair in point.pairs
    )
    write_text(path, compare_page(title, _HELP, build_sweep_compare_figure(comparison), tables))
    return path


_HELP = (
    "One colour per sweep: p50 solid, p99 dashed; throughput solid, goodput dotted. x: a sweep's knee. A ringed "
    "point differs from the baseline's point of the same load beyond noise at the "
    f"{CONFIDENCE:.0%} level (red: slower, green: faster), judged on the statistic that curve draws. The curves are "
    "the points each sweep.json reports; the tables are every paired point's comparison."
)
