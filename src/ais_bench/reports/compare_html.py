"""``compare.html``: one self-contained page (works offline) that overlays the runs' distributions.

For every compared dataset, the cumulative distribution (CDF) of TTFT, ITL and E2EL of each run, one
curve per run on a shared plot (the baseline first), then the comparison tables. A curve is drawn
through ``CDF_POINTS`` quantiles of the run's values (so a million requests cost as little as a
hundred); the figure is written as Plotly.js JSON with the plotly.js bundle embedded, as
``html_report`` does.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from ais_bench.metrics.comparison import DatasetComparison, StageSample
from ais_bench.reports.cells import write_text
from ais_bench.reports.compare_report import CONFIDENCE
from ais_bench.reports.html_report import plotly_js

#: Quantiles drawn per curve (evenly spaced in probability, min and max included).
CDF_POINTS = 501
#: Metrics drawn, with their titles.
CDF_METRICS = {"ttft": "TTFT", "itl": "ITL", "e2el": "E2EL"}
#: The id of the figure's <div> (the browser test looks it up).
PLOT_DIV_ID = "ais-bench-compare"
_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")
_PLOT_HEIGHT_PX = 320


def cdf_points(values_s: np.ndarray, points: int = CDF_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """(x in ms, y in 0..1): the ``points`` quantiles of ``values_s`` (seconds) and their probabilities."""
    probabilities = np.linspace(0.0, 1.0, points)
    values = np.asarray(values_s, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return np.empty(0), np.empty(0)
    return np.quantile(values, probabilities) * 1000, probabilities


def build_compare_figure(
    datasets: Sequence[str], labels: Sequence[str], samples: dict[tuple[str, str], StageSample],
    keys: dict[tuple[str, str], str],
) -> dict[str, Any]:
    """One plot per (dataset, metric): a CDF per run. ``keys`` maps (run label, baseline dataset key)
    to the run's own dataset key in ``samples``."""
    plots = [
        (dataset, metric)
        for dataset in datasets
        for metric in CDF_METRICS
        if any(metric in samples[(label, keys[(label, dataset)])].latencies_s
               for label in labels if (label, dataset) in keys)
    ]
    data: list[dict[str, Any]] = []
    layout: dict[str, Any] = {
        "height": max(1, len(plots)) * _PLOT_HEIGHT_PX + 120,
        "margin": {"t": 60, "l": 70, "r": 30, "b": 50},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "left", "x": 0},
        "paper_bgcolor": "white", "plot_bgcolor": "white", "hovermode": "closest", "annotations": [],
    }
    gap = 0.08 / max(1, len(plots))
    for cell, (dataset, metric) in enumerate(plots, start=1):
        top = 1 - (cell - 1) / len(plots)
        bottom = 1 - cell / len(plots) + gap
        suffix = "" if cell == 1 else str(cell)
        layout[f"xaxis{suffix}"] = {"anchor": f"y{suffix}", "title": {"text": f"{CDF_METRICS[metric]} (ms)"},
                                    "gridcolor": "#EBF0F8"}
        layout[f"yaxis{suffix}"] = {"domain": [bottom, top - gap], "anchor": f"x{suffix}", "range": [0, 1.02],
                                    "title": {"text": "share of values"}, "gridcolor": "#EBF0F8"}
        layout["annotations"].append({"text": f"<b>{html.escape(dataset)}: {CDF_METRICS[metric]}</b>",
                                      "xref": "paper", "yref": "paper", "x": 0, "y": top - gap / 2,
                                      "xanchor": "left", "yanchor": "bottom", "showarrow": False})
        for index, label in enumerate(labels):
            key = keys.get((label, dataset))
            values = samples[(label, key)].latencies_s.get(metric) if key else None
            if values is None:
                continue
            x, y = cdf_points(values)
            data.append({
                "type": "scatter", "mode": "lines", "x": x.tolist(), "y": y.tolist(), "name": label,
                "legendgroup": label, "showlegend": cell == 1, "xaxis": f"x{suffix}", "yaxis": f"y{suffix}",
                "line": {"color": _COLOURS[index % len(_COLOURS)], "width": 2, "shape": "hv"},
                "hovertemplate": f"{html.escape(label)}<br>%{{x:.2f}} ms: %{{y:.1%}}<extra></extra>",
            })
    return {"data": data, "layout": layout}


def write_compare_html(
    path: Path, figure: dict[str, Any], pairs: Sequence[DatasetComparison], baseline: str
) -> Path:
    """Write the page: title, the comparison tables, the figure."""
    title = f"ais_bench compare: baseline {baseline}"
    tables = "".join(pair_table(pair, baseline) for pair in pairs)
    write_text(path, compare_page(title, _HELP, figure, tables))
    return path


def compare_page(title: str, help_text: str, figure: dict[str, Any], tables: str) -> str:
    """One self-contained page: ``title``, ``help_text``, the figure (plotly.js inline), then ``tables`` (HTML)."""
    script = orjson.dumps(figure).decode().replace("</", "<\\/")
    config = orjson.dumps({"displaylogo": False, "responsive": True}).decode()
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{html.escape(title)}</h1>\n<p class=\"help\">{html.escape(help_text)}</p>\n"
        f'<div id="{PLOT_DIV_ID}" style="height:{figure["layout"]["height"]}px; width:100%;"></div>\n'
        f"{tables}\n<script>{plotly_js()}</script>\n"
        f'<script>var figure = {script};\nPlotly.newPlot("{PLOT_DIV_ID}", figure.data, figure.layout, {config});</script>\n'
        "</body>\n</html>\n"
    )


_HELP = (
    "Cumulative distributions: for a latency x, the share of the stage's values at or below x (ITL: every "
    "gap between two token events). A curve to the left is faster. Verdicts are at the "
    f"{CONFIDENCE:.0%} level: Mann-Whitney U for means, intervals of the difference for percentiles and rates."
)
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 16px; color: #222; }
h1 { font-size: 20px; margin: 0 0 8px 0; }
table { border-collapse: collapse; font-size: 13px; margin: 12px 0; }
caption { text-align: left; font-weight: 600; padding-bottom: 4px; }
th, td { border: 1px solid #ccc; padding: 2px 8px; text-align: right; }
td:first-child, th:first-child, td.verdict { text-align: left; }
.faster { color: #2a7d2a; } .slower { color: #b22222; }
.help { font-size: 12px; color: #555; }
"""


def pair_table(pair: DatasetComparison, baseline: str, where: str = "") -> str:
    """The HTML table of one pair; ``where``: the sweep point it belongs to (``concurrency 4``)."""
    at = f"{where}: " if where else ""
    caption = f"{at}{pair.dataset} ({pair.stage} stage): {pair.run} (B) against {baseline} (A)"
    rows = "".join(
        f"<tr><td>{html.escape(row.key)}</td><td>{_value(row.a, row.unit)}</td><td>{_value(row.b, row.unit)}</td>"
        f"<td>{'N/A' if row.change_pct is None else f'{row.change_pct:+.1f}%'}</td>"
        f'<td class="verdict {row.verdict.split()[0]}">{html.escape(row.verdict)}</td></tr>'
        for row in pair.rows
    )
    return (
        f"<table><caption>{html.escape(caption)}</caption><tr><th>Metric</th><th>A</th><th>B</th><th>Change</th>"
        f"<th>Verdict</th></tr>{rows}</table>"
    )


def _value(value: float, unit: str) -> str:
    return f"{value:.4f} (share)" if unit == "share" else f"{value:,.2f} {html.escape(unit)}"
