"""``<ds>_plot.html`` opened in headless Chromium with the network off: no JavaScript error, every
trace built, nothing fetched, a picture with the trace colours; 100,000 requests (past
``PER_REQUEST_LIMIT``: binned) load with their density maps, time series and distributions, and pan."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from ais_bench.metrics import compute_summary
from ais_bench.records.record import RequestTable
from ais_bench.reports.html_figure import COLOURS, TRACE_NAMES
from ais_bench.reports.html_report import DIST_DIV_ID, write_plot
from ais_bench.reports.plot_series import PER_REQUEST_LIMIT
from tests.support.browser import (
    colour_count,
    decode_png,
    distinct_colours,
    hex_rgb,
    load_page,
    requires_chromium,
    take_screenshot,
)

pytestmark = requires_chromium()

DIV_ID = "ais-bench-plot"


def synthetic_run(n: int, batch_size: int, *, fail_every: int = 0, seed: int = 0) -> tuple[RequestTable, np.ndarray]:
    """``n`` streamed requests sent back to back on ``batch_size`` lanes (request i on lane
    i % batch_size), 4 time points each; every ``fail_every``-th fails. Returns the table and a
    planned send time per row (1 ms before the actual send)."""
    rng = np.random.default_rng(seed)
    ttft_s = rng.uniform(0.03, 0.2, n)
    decode_s = rng.uniform(0.5, 2.0, n)
    lanes = -(-n // batch_size)
    busy = np.zeros(lanes * batch_size)
    busy[:n] = ttft_s + decode_s + 0.001
    starts = 1000.0 + (np.cumsum(busy.reshape(lanes, batch_size), axis=0) - busy.reshape(lanes, batch_size))
    start_s = starts.reshape(-1)[:n]
    points = np.stack([start_s, start_s + ttft_s, start_s + ttft_s + decode_s / 2, start_s + ttft_s + decode_s], axis=1)
    success = np.ones(n, dtype=bool)
    if fail_every:
        success[fail_every // 2 :: fail_every] = False
    table = RequestTable(
        start_s=start_s, end_s=points[:, -1].copy(), success=success,
        input_tokens=rng.integers(50, 500, n), output_tokens=rng.integers(20, 200, n),
        offsets=np.arange(n + 1, dtype=np.int64) * 4, time_points_s=points.reshape(-1),
    )
    return table, start_s - 0.001


@pytest.fixture(scope="module")
def small_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    table, scheduled = synthetic_run(600, 32, fail_every=40)
    summary = compute_summary(table, stage="stable", stats_list=("Average",), batch_size=32, stream=True)
    assert summary.window is not None
    out = tmp_path_factory.mktemp("plot") / "synthetic_plot.html"
    return write_plot(out, table, stream=True, summary=summary, scheduled_s=scheduled, title="test/synthetic")


#: Hover the fourth request's send (trace 0 = TTFT markers) and return the hover label's text.
HOVER_JS = """
var t = gd._fullData[0];
Plotly.Fx.hover(gd, {xval: t.x[3], yval: t.y[3]}, 'xy');
return new Promise(function (done) {
  setTimeout(function () { var h = gd.querySelector('.hovertext'); done(h ? h.textContent : null); }, 200);
});
"""


def test_report_loads_without_errors_or_network(small_report: Path, tmp_path: Path) -> None:
    page = load_page(small_report, tmp_path, div_id=DIV_ID, action_js=HOVER_JS)
    assert page.errors == []
    assert page.plotly == "object"  # plotly.js came from the file itself
    assert page.network == []
    names = {trace["name"] for trace in page.traces}
    assert {TRACE_NAMES["ttft"], TRACE_NAMES["decode"], TRACE_NAMES["failed"]} <= names
    assert "In flight (successful requests)" in names
    gl = {trace["name"]: trace["points"] for trace in page.traces if trace["type"] == "scattergl"}
    assert gl[TRACE_NAMES["ttft"]] == 585 and gl[TRACE_NAMES["failed"]] == 15
    assert any(name.startswith("Planned sends/s") for name in gl)
    assert page.canvases >= 1  # WebGL canvases exist
    assert page.shapes >= 4  # the window on three rows and the batch_size line
    assert "Common metrics (stage: stable)" in page.dom and "Steady window:" in page.dom
    assert isinstance(page.action, str) and page.action.startswith("request 3, sent at")
    assert "TTFT" in page.action and "Decode" in page.action and "E2EL" in page.action and " in, " in page.action
    assert {"TTFT per request", "Mean ITL per request (at mid-decode)"} <= names
    assert any(name.startswith("Output tokens/s") for name in names)
    assert any(name.startswith("Requests completed/s") for name in names)
    assert any(name.startswith("TTFT p99 over a rolling") for name in names)


def test_report_screenshot_shows_the_traces(small_report: Path, tmp_path: Path) -> None:
    png = take_screenshot(small_report, tmp_path / "shot.png", tmp_path, width=1400, height=3200)
    pixels = decode_png(png)
    assert pixels.shape[:2] == (3200, 1400)
    assert distinct_colours(pixels) > 100
    for key, least in (("ttft", 200), ("decode", 2000), ("failed", 20)):
        assert colour_count(pixels, hex_rgb(COLOURS[key])) >= least, key
    # the steady window: its colour at opacity 0.3 over the white plot background
    shade = tuple(round(0.3 * c + 0.7 * 255) for c in hex_rgb(COLOURS["window"]))
    assert colour_count(pixels, shade, tolerance=6) >= 2000
    # the in-flight fill is translucent green over white or over the window shading
    greenish = (pixels[..., 1].astype(int) - pixels[..., 0].astype(int) > 40) & (pixels[..., 2] < 200)
    assert int(greenish.sum()) > 2000


#: Pan the shared x axis to its middle half, as a drag would; return the width before, the range
#: after and the distribution figure's traces.
PAN_JS = (
    "var r = gd._fullLayout.xaxis.range, w = r[1] - r[0];"
    "var dist = document.getElementById(%s);"
    "return Plotly.relayout(gd, {'xaxis.range': [r[0] + w / 4, r[1] - w / 4]})"
    ".then(function () { return [w, gd._fullLayout.xaxis.range,"
    " dist._fullData.map(function (t) { return [t.type, t.name, t.x.length]; })]; });"
)


@pytest.mark.slow
def test_hundred_thousand_requests_are_binned_load_and_pan(tmp_path: Path) -> None:
    table, scheduled = synthetic_run(100_000, 256)
    assert len(table) > PER_REQUEST_LIMIT
    summary = compute_summary(table, stage="stable", stats_list=("Average",), batch_size=256, stream=True)
    started = time.perf_counter()
    path = write_plot(tmp_path / "big_plot.html", table, stream=True, summary=summary, scheduled_s=scheduled)
    write_s = time.perf_counter() - started
    size_mb = path.stat().st_size / 1e6
    assert size_mb < 20, size_mb
    started = time.perf_counter()
    page = load_page(path, tmp_path, div_id=DIV_ID, action_js=PAN_JS % repr(DIST_DIV_ID), budget_ms=5000,
                     timeout_s=400)
    load_s = time.perf_counter() - started
    print(f"100k requests: write {write_s:.1f} s, {size_mb:.1f} MB, browser load+pan {load_s:.1f} s")
    assert page.errors == [] and page.network == []
    assert "This run has 100,000 requests" in page.dom
    kinds = {trace["name"]: trace["type"] for trace in page.traces}
    assert TRACE_NAMES["ttft"] not in kinds  # no per-request timeline
    assert [name for name, kind in kinds.items() if kind == "heatmap"] == ["E2EL density", "TTFT density",
                                                                         "ITL density"]
    assert {"In flight (successful requests), lowest per 0.5 s", "In flight (successful requests), highest per 0.5 s"} <= set(kinds)
    assert any(name.startswith("Output tokens/s") for name in kinds)
    assert page.shapes >= 8  # the window on each of the 7 rows and the batch_size line
    width, panned, distributions = page.action
    assert panned[1] - panned[0] == pytest.approx(width / 2, rel=1e-6)
    bars = [name.split(" ")[0] for kind, name, _ in distributions if kind == "bar"]
    assert bars == ["TTFT", "TPOT", "ITL", "E2EL"]
    assert [points for kind, _, points in distributions if kind == "scatter"] == [201] * 4  # the CDFs
