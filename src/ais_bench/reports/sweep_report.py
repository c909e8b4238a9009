"""The sweep folder's results: ``sweep.json`` (the document scripts and ``ais_bench compare`` read),
``sweep.csv`` (one row per point) and ``sweep.html`` (the curves, offline: Plotly.js JSON written
directly, as ``html_report``). docs/outputs.md describes the files; a change of a key's meaning or a
removed key raises ``SWEEP_SCHEMA_VERSION``, added keys do not."""

from __future__ import annotations

import csv
import html
import io
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ais_bench.metrics.goodput import SloBound
from ais_bench.reports.cells import document_identity, write_text
from ais_bench.reports.html_report import plotly_js
from ais_bench.sweep.rows import KNEE_ELASTICITY, SweepRow
from ais_bench.sweep.search import SearchOutcome, confidence_statement
from ais_bench.sweep.values import SweepAxis

SWEEP_SCHEMA = "ais_bench.sweep"
SWEEP_SCHEMA_VERSION = 1
SWEEP_JSON = "sweep.json"
SWEEP_CSV = "sweep.csv"
SWEEP_HTML = "sweep.html"
#: The id of the figure's <div> (the browser test looks it up).
SWEEP_DIV_ID = "ais-bench-sweep"
KNEE_RULE = (
    f"the knee is the first point after which request throughput grows by less than {KNEE_ELASTICITY:g} times "
    "the load's relative growth (between consecutive points with results)"
)


@dataclass(frozen=True)
class SweepReport:
    """What a sweep folder's files say: the ``axis``, one row per point in the order measured, the
    SLO bounds (empty without ``--goodput``), the ``knee`` (None: none found) and, for
    ``--slo-search`` (``kind`` ``slo_search``), the search's outcome once it has ended."""

    axis: SweepAxis
    rows: list[SweepRow]
    slo: tuple[SloBound, ...]
    knee: float | None
    search: SearchOutcome | None = None
    model_abbr: str = ""
    data_abbr: str = ""
    kind: str = "sweep"


def axis_value(axis: SweepAxis, value: float | None) -> int | float | None:
    """A swept value as written: an int on an integer axis."""
    if value is None:
        return None
    return int(value) if axis.integer else value


def sweep_document(report: SweepReport) -> dict[str, Any]:
    """The mapping written to ``sweep.json``."""
    axis = report.axis
    document: dict[str, Any] = {
        **document_identity(SWEEP_SCHEMA, SWEEP_SCHEMA_VERSION),
        "kind": "slo_search" if report.search is not None else report.kind,
        "axis": axis.name,
        "axis_unit": axis.unit,
        "model_abbr": report.model_abbr,
        "data_abbr": report.data_abbr,
        "slo_ms": {b.metric: b.limit_ms for b in report.slo} or None,
        "knee": axis_value(axis, report.knee),
        "knee_rule": KNEE_RULE,
        "run_dirs": [row.run_dir for row in report.rows],
        "points": [_point_entry(axis, row) for row in report.rows],
    }
    search = report.search
    if search is not None:
        document.update(
            max_passing=axis_value(axis, search.max_passing),
            min_failing=axis_value(axis, search.min_failing),
            slo_attainment_target=search.target,
            resolution=search.resolution,
            search_limited=search.limited,
            uncertain=[axis_value(axis, v) for v in search.uncertain_values],
            confidence=confidence_statement(search, axis.name),
        )
    return document


def _point_entry(axis: SweepAxis, row: SweepRow) -> dict[str, Any]:
    entry = asdict(row)
    entry["value"] = axis_value(axis, row.value)
    return {key: _finite(value) for key, value in entry.items()}


def _finite(value: Any) -> Any:
    """NaN and infinities as null (JSON has neither)."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def write_sweep_outputs(folder: Path, report: SweepReport) -> None:
    """(Re)write ``sweep.json``, ``sweep.csv`` and ``sweep.html`` in ``folder`` (after every point,
    so that a sweep stopped half-way keeps the rows it measured)."""
    write_text(folder / SWEEP_JSON, json.dumps(sweep_document(report), indent=2) + "\n")
    write_text(folder / SWEEP_CSV, sweep_csv(report))
    write_text(folder / SWEEP_HTML, sweep_html(report))


def sweep_csv(report: SweepReport) -> str:
    columns = SweepRow.columns()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in report.rows:
        entry = _point_entry(report.axis, row)
        writer.writerow(["" if entry[c] is None else entry[c] for c in columns])
    return out.getvalue()


# --- sweep.html -------------------------------------------------------------------------------------

_LATENCY_CURVES = (("ttft_p50_ms", "TTFT p50"), ("ttft_p99_ms", "TTFT p99"), ("e2el_p50_ms", "E2EL p50"),
                   ("e2el_p99_ms", "E2EL p99"))
_COLOURS = {"TTFT p50": "#636EFA", "TTFT p99": "#19D3F3", "E2EL p50": "#EF553B", "E2EL p99": "#FFA15A",
            "Request throughput": "#00CC96", "Goodput": "#AB63FA", "SLO attainment": "#AB63FA", "knee": "#222222"}


def sweep_figure(report: SweepReport) -> dict[str, Any]:
    """Three stacked plots: latency against request throughput (each point labelled with its load),
    request throughput and goodput against the load, SLO attainment against the load; the knee marked
    on each."""
    rows = sorted((r for r in report.rows if r.ok), key=lambda r: r.value)
    label = report.axis.name.replace("_", " ")
    data: list[dict[str, Any]] = []
    for key, name in _LATENCY_CURVES:
        data.append(_curve(name, [r.request_throughput for r in rows], [getattr(r, key) for r in rows], "x", "y",
                           text=[f"{label} {r.value:g}" for r in rows]))
    loads = [r.value for r in rows]
    data.append(_curve("Request throughput", loads, [r.request_throughput for r in rows], "x2", "y2"))
    if report.slo:
        data.append(_curve("Goodput", loads, [r.goodput_req_s for r in rows], "x2", "y2"))
        attainment = _curve("SLO attainment", loads, [r.attainment for r in rows], "x3", "y3")
        attainment["error_y"] = {
            "type": "data", "symmetric": False,
            "array": [_gap(r.attainment_ci_high, r.attainment) for r in rows],
            "arrayminus": [_gap(r.attainment, r.attainment_ci_low) for r in rows],
        }
        data.append(attainment)
    knee = next((r for r in rows if r.value == report.knee), None)
    if knee is not None:
        data.append({"type": "scatter", "mode": "markers+text", "name": "knee", "x": [knee.request_throughput],
                     "y": [knee.e2el_p99_ms], "text": [f"knee ({label} {knee.value:g})"], "textposition": "top left",
                     "marker": {"size": 14, "symbol": "x", "color": _COLOURS["knee"]}, "xaxis": "x", "yaxis": "y"})
    return {"data": data, "layout": _layout(report, loads, label)}


def _gap(high: float | None, low: float | None) -> float | None:
    return None if high is None or low is None else max(0.0, high - low)


def _curve(name: str, x: list[Any], y: list[Any], xaxis: str, yaxis: str, text: list[str] | None = None) -> dict[str, Any]:
    trace: dict[str, Any] = {
        "type": "scatter", "mode": "lines+markers", "name": name, "x": [_finite(v) for v in x],
        "y": [_finite(v) for v in y], "xaxis": xaxis, "yaxis": yaxis,
        "line": {"color": _COLOURS[name]}, "marker": {"color": _COLOURS[name], "size": 8},
    }
    if text is not None:
        trace["text"] = text
        trace["hovertemplate"] = "%{text}<br>%{x:.4g} req/s, %{y:.4g} ms<extra>" + name + "</extra>"
    return trace


def _layout(report: SweepReport, loads: list[float], label: str) -> dict[str, Any]:
    log_axis = bool(loads) and min(loads) > 0 and max(loads) / min(loads) >= 8
    load_axis = {"title": {"text": f"{label} ({report.axis.unit})"}, "type": "log" if log_axis else "linear"}
    layout: dict[str, Any] = {
        "height": 1100, "template": None, "hovermode": "closest", "legend": {"orientation": "h", "y": 1.04},
        "xaxis": {"title": {"text": "request throughput (req/s)"}, "anchor": "y"},
        "yaxis": {"title": {"text": "latency (ms)"}, "domain": [0.7, 1.0], "anchor": "x"},
        "xaxis2": {**load_axis, "anchor": "y2"},
        "yaxis2": {"title": {"text": "req/s"}, "domain": [0.37, 0.62], "anchor": "x2"},
        "xaxis3": {**load_axis, "anchor": "y3"},
        "yaxis3": {"title": {"text": "SLO attainment"}, "domain": [0.0, 0.28], "anchor": "x3", "range": [0, 1.05]},
        "shapes": [], "annotations": [],
    }
    if report.knee is not None:
        for axis in ("x2", "x3"):
            layout["shapes"].append({"type": "line", "xref": axis, "x0": report.knee, "x1": report.knee,
                                     "yref": f"y{axis[1]} domain", "y0": 0, "y1": 1,
                                     "line": {"dash": "dash", "color": _COLOURS["knee"]}})
        layout["annotations"].append({"xref": "x2", "yref": "y2 domain", "x": _log(report.knee, log_axis), "y": 1,
                                      "text": "knee", "showarrow": False, "yanchor": "bottom"})
    if report.search is not None:
        layout["shapes"].append({"type": "line", "xref": "x3 domain", "x0": 0, "x1": 1, "yref": "y3",
                                 "y0": report.search.target, "y1": report.search.target,
                                 "line": {"dash": "dot", "color": "#888"}})
    return layout


def _log(value: float, log_axis: bool) -> float:
    """Annotation positions on a log axis are given in log10 units."""
    return math.log10(value) if log_axis else value


def sweep_html(report: SweepReport) -> str:
    figure = sweep_figure(report)
    title = f"ais_bench sweep of {report.axis.name}" + (f": {report.model_abbr}/{report.data_abbr}" if report.model_abbr else "")
    statement = ""
    if report.search is not None:
        statement = f'<p class="search">{html.escape(confidence_statement(report.search, report.axis.name))}</p>'
    config = {"scrollZoom": True, "displaylogo": False, "responsive": True}
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{html.escape(title)}</h1>\n{statement}\n{_rows_table(report)}\n"
        f'<p class="help">{html.escape(KNEE_RULE[0].upper() + KNEE_RULE[1:])}. Points without results are left '
        "out of the curves (see the table for why).</p>\n"
        f'<div id="{SWEEP_DIV_ID}" style="height:{figure["layout"]["height"]}px; width:100%;"></div>\n'
        f"<script>{plotly_js()}</script>\n"
        f'<script>Plotly.newPlot("{SWEEP_DIV_ID}", {_script_json(figure["data"])}, '
        f'{_script_json(figure["layout"])}, {_script_json(config)});</script>\n</body>\n</html>\n'
    )


def _script_json(value: Any) -> str:
    """JSON safe inside a ``<script>`` element (no ``</`` can close it)."""
    return json.dumps(value, allow_nan=False).replace("</", "<\\/")


_TABLE_COLUMNS = (
    ("value", "{:g}"), ("status", "{}"), ("request_throughput", "{:.4g}"), ("output_token_throughput", "{:.4g}"),
    ("ttft_p99_ms", "{:.4g}"), ("e2el_p99_ms", "{:.4g}"), ("goodput_req_s", "{:.4g}"), ("attainment", "{:.3f}"),
    ("steady_share", "{:.2f}"), ("run_dir", "{}"), ("reason", "{}"),
)


def _rows_table(report: SweepReport) -> str:
    head = "".join(f"<th>{html.escape(name)}</th>" for name, _ in _TABLE_COLUMNS)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(getattr(row, name), fmt))}</td>" for name, fmt in _TABLE_COLUMNS) + "</tr>"
        for row in report.rows
    )
    return f'<table class="points"><tr>{head}</tr>{body}</table>'


def _cell(value: Any, fmt: str) -> str:
    return "" if value is None else fmt.format(value)


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 16px; color: #222; }
h1 { font-size: 20px; margin: 0 0 8px 0; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 2px 8px; text-align: right; }
.search { font-size: 14px; }
.help { font-size: 12px; color: #555; }
"""
