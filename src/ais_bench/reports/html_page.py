"""The HTML page around the report's figure: title, summary panel (tables, goodput, window, warnings), help."""

from __future__ import annotations

import html
from typing import Any

from ais_bench.metrics.goodput import Goodput
from ais_bench.metrics.summary import PerfSummary
from ais_bench.reports.cells import MISSING, aisbench_common, aisbench_stat, format_cell
from ais_bench.reports.console import format_headline, format_notes
from ais_bench.reports.goodput_text import attainment_text, goodput_value_text, not_good_text, slo_text


def render_summary(summary: PerfSummary | None) -> str:
    """The summary panel as an HTML fragment."""
    if summary is None:
        return (
            '<p class="note">Metrics not available for this run (for example no steady stage was found, '
            "or every request failed): see the console output. The timeline below shows every request.</p>"
        )
    common = "".join(
        f"<tr><td>{_esc(m.name)}</td><td>{_esc(_cell(aisbench_common(m.value), m.unit))}</td></tr>" for m in summary.common
    )
    parts = [
        f'<table class="common"><caption>Common metrics (stage: {_esc(summary.stage)})</caption>'
        f"<tr><th>Metric</th><th>Value</th></tr>{common}</table>"
    ]
    if summary.rows:
        head = "".join(f"<th>{_esc(s)}</th>" for s in (*summary.stats_list, "N"))
        body = "".join(
            f"<tr><td>{_esc(r.name)}</td>{''.join(f'<td>{_esc(_cell(aisbench_stat(v, r.unit), r.unit))}</td>' for v in r.values)}"
            f"<td>{r.n}</td></tr>"
            for r in summary.rows
        )
        parts.append(
            f'<table class="metrics"><caption>Per-request metrics</caption><tr><th>Metric</th>{head}</tr>'
            f"{body}</table>"
        )
    if summary.goodput is not None:
        parts.append(_goodput_table(summary.goodput))
    notes = [note for note in (format_headline(summary) + "\n" + format_notes(summary)).split("\n") if note]
    if notes:
        parts.append('<ul class="notes">' + "".join(f"<li>{_esc(n)}</li>" for n in notes) + "</ul>")
    return '<div class="panel">' + "".join(parts) + "</div>"


def _goodput_table(goodput: Goodput) -> str:
    rows = (
        ("Goodput", goodput_value_text(goodput)),
        ("Met every bound", attainment_text(goodput)),
        ("Not good", not_good_text(goodput)),
    )
    body = "".join(f"<tr><td>{_esc(name)}</td><td>{_esc(value)}</td></tr>" for name, value in rows)
    return (
        f'<table class="goodput"><caption>Goodput (stage: {_esc(goodput.stage)}; SLO {_esc(slo_text(goodput))})'
        f"</caption><tr><th>Metric</th><th>Value</th></tr>{body}</table>"
    )


def _cell(value: Any, unit: str) -> str:
    cell = format_cell(value, unit)
    return MISSING if cell is None else str(cell)


def _esc(text: Any) -> str:
    return html.escape(str(text))


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 16px; color: #222; }
h1 { font-size: 20px; margin: 0 0 8px 0; }
.panel { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
table { border-collapse: collapse; font-size: 13px; }
caption { text-align: left; font-weight: 600; padding-bottom: 4px; }
th, td { border: 1px solid #ccc; padding: 2px 8px; text-align: right; }
td:first-child, th:first-child { text-align: left; }
.notes { font-size: 13px; flex-basis: 100%; margin: 0; }
.note { font-size: 14px; color: #a33; }
.help { font-size: 12px; color: #555; }
"""


def render_page(title: str, summary_html: str, figure_html: str) -> str:
    """The whole HTML document (figure fragment already holds the embedded plotly.js)."""
    help_text = (
        "Times are seconds after the first send (perf_counter clock of the client). Drag to zoom, "
        "scroll to zoom, double-click to reset; hover a request's start for its TTFT, decode time, E2EL and tokens."
    )
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{_esc(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{_esc(title)}</h1>\n{summary_html}\n<p class=\"help\">{_esc(help_text)}</p>\n"
        f"{figure_html}\n</body>\n</html>\n"
    )
