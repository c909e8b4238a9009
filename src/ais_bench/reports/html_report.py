"""The concurrency report ``<ds>_plot.html``: one self-contained file that works offline.

Top to bottom: the summary panel (common metrics, per-request statistics, steady window, warnings;
"not available" when the metrics could not be computed), then two Plotly figures.

The time figure, rows sharing one x axis in seconds after the first send:

1. request timeline: each request is a horizontal line at its rank by start time; successful
   streaming requests in two colours (TTFT = send -> first event, decode = first -> last event),
   successful non-streaming requests in one, failed requests (send -> failure seen) in a third;
   hovering a request's start shows TTFT, decode time, E2EL and token counts. Runs of more than
   ``PER_REQUEST_LIMIT`` requests draw E2EL over time instead (density per time bin, p50/p99);
2. TTFT and ITL over time (streaming): a point per request (the request's mean ITL for ITL) or,
   past ``PER_REQUEST_LIMIT``, the density per time bin; the rolling p50 and p99 as lines (at each
   bin, over the ``2 * ROLLING_HALF_BINS + 1`` bins centred on it; said above the figure);
3. output tokens/s and requests completed (and failed) per second, per time bin;
4. in-flight successful requests over time (step chart; the count the steady stage is found from),
   plus every request including failed ones as a dashed line when some failed;
5. with ``--server-metrics``: the server's running and waiting requests, and its KV-cache usage, per
   scrape (``reports/html_server.py``);
6. when the load was paced: planned vs actual sends per second.

The steady window (stable_stage) is shaded across all rows. The distribution figure: a histogram
and a CDF of TTFT, TPOT, ITL and E2EL (those the run has). Time bins, percentiles and histograms are
shaped in ``plot_series`` (a 1M-request page stays a few MB), the request timeline in ``plot_data``,
the rows in ``html_series``, the page around the figures in ``html_page``.

Plotly.js is embedded in the file (about 4.8 MB); per-request traces are WebGL (``Scattergl``) and
each segment family (colour) is ONE trace (see ``_add_timeline``). The figures are written as
Plotly.js JSON directly (numpy arrays as base64 typed arrays), without importing plotly's Python
package (whose figure objects validate every value: a tenth of a second per report); only its
plotly.js bundle is read.
"""

from __future__ import annotations

import base64
import html
import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from ais_bench.errors import OutputError
from ais_bench.metrics.summary import PerfSummary
from ais_bench.records.record import RequestTable
from ais_bench.reports.cells import write_text
from ais_bench.reports.html_figure import ReportData, build_report_data, build_time_figure
from ais_bench.reports.html_page import render_page, render_summary
from ais_bench.reports.html_series import build_distribution_figure
from ais_bench.reports.plot_series import (
    PER_REQUEST_LIMIT,
    ROLLING_HALF_BINS,
    SKETCH_RELATIVE_ERROR,
    rolling_window_s,
)
from ais_bench.reports.plotly_figure import Figure
from ais_bench.server_metrics.derive import GaugeSeries

#: The ids of the figures' <div>s (the browser test looks them up).
PLOT_DIV_ID = "ais-bench-plot"
DIST_DIV_ID = "ais-bench-distributions"


def write_plot(
    path: str | Path,
    table: RequestTable,
    *,
    stream: bool,
    summary: PerfSummary | None = None,
    scheduled_s: np.ndarray | None = None,
    title: str = "",
    server: list[GaugeSeries] | None = None,
) -> Path:
    """Write the report to ``path`` and return it.

    ``table``: the run's ``RequestTable`` (any row order, final token counts).
    ``scheduled_s``: planned send time per row (perf_counter s, NaN = not paced), or None.
    ``summary``: the run's ``PerfSummary`` when the metrics were computed (adds the summary panel
    and, for stable_stage, the shaded steady window); None still writes the timeline.
    ``server``: the scraped server gauges (``--server-metrics``): rows under the in-flight chart.
    Raises ``OutputError`` when the file cannot be written.
    """
    window = summary.window if summary is not None else None
    data = build_report_data(table, stream=stream, scheduled_s=scheduled_s)
    figures = [(PLOT_DIV_ID, build_time_figure(data, window, server))]
    if data.distributions:
        figures.append((DIST_DIV_ID, build_distribution_figure(data.distributions)))
    target = Path(path)
    body = _binned_note(data) + _rolling_note(data) + figures_html(figures)
    write_text(target, render_page(title or target.stem, render_summary(summary), body))
    return target


def _binned_note(data: ReportData) -> str:
    """The page's statement that per-request traces were replaced by bins ("" when they were not)."""
    if not data.binned:
        return ""
    text = (
        f"This run has {len(data.timeline.start_rel_s):,} requests, more than {PER_REQUEST_LIMIT:,}: the request "
        f"timeline and the per-request latency points are not drawn; latencies over time are shown as density "
        f"(colour = number of values) per {data.bins.width_s:g} s bin with the rolling p50/p99."
    )
    return f'<p class="note" id="binned-note">{html.escape(text)}</p>\n'


def _rolling_note(data: ReportData) -> str:
    """How the p50/p99 lines over time are computed ("" when the page draws none)."""
    if not data.latency:
        return ""
    width = data.bins.width_s
    how = (
        f"estimated from counts per time bin on log-spaced value bins (within {SKETCH_RELATIVE_ERROR:.1%} of the "
        "exact value)" if data.binned else "exact (numpy's linear percentiles of the window's values)"
    )
    text = (
        f"p50/p99 over time are rolling: at each {width:g} s time bin, over the {rolling_window_s(data.bins):g} s "
        f"window of the {2 * ROLLING_HALF_BINS + 1} bins centred on it (fewer at the run's ends); {how}."
    )
    return f'<p class="note" id="rolling-note">{html.escape(text)}</p>\n'


def figures_html(figures: list[tuple[str, Figure]]) -> str:
    """Each figure's ``<div>``, the embedded plotly.js (once) and the scripts that draw them."""
    config = _script_json({"scrollZoom": True, "displaylogo": False, "responsive": True})
    divs = "".join(
        f'<div id="{div_id}" class="plotly-graph-div" style="height:{figure["layout"]["height"]}px; width:100%;"></div>\n'
        for div_id, figure in figures
    )
    calls = "".join(
        f'Plotly.newPlot("{div_id}", {_script_json(figure["data"])}, {_script_json(figure["layout"])}, {config});\n'
        for div_id, figure in figures
    )
    return f"{divs}<script>{plotly_js()}</script>\n<script>\n{calls}</script>"


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


