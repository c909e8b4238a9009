"""The concurrency report: data shaping against hand-computed values, the figure and the page."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ais_bench.errors import OutputError
from ais_bench.metrics import compute_summary
from ais_bench.records.record import RequestTable
from ais_bench.reports.html_figure import COLOURS, TRACE_NAMES, build_figure
from ais_bench.reports.html_page import render_summary
from ais_bench.reports.html_report import write_plot
from ais_bench.reports.plot_data import (
    build_inflight_steps,
    build_send_rate,
    build_timeline,
    choose_bin_s,
    first_send_s,
)


def _mixed_table() -> RequestTable:
    # Rows out of start order: A sent at 10.0, B at 9.5 (the first send), C failed (sent 10.1, seen
    # failing at 10.6), D failed before it was sent (no time at all), E sent at 11.0 with a single
    # event (first event == last event: no decode segment).
    points = [[10.0, 10.2, 11.0], [9.5, 9.9, 10.4, 10.5], [10.1], [], [11.0, 11.3]]
    return RequestTable.from_columns(
        points, [True, True, False, False, True], [100, 200, 0, 0, 50], [9, 4, 0, 0, 1],
        start_s=[10.0, 9.5, 10.1, np.nan, 11.0], end_s=[11.0, 10.5, 10.6, np.nan, 11.3],
    )


def test_timeline_segments_streaming() -> None:
    table = _mixed_table()
    origin = first_send_s(table)
    assert origin == 9.5
    tl = build_timeline(table, stream=True, origin_s=origin)
    # rank by start: B (9.5) 0, A (10.0) 1, C (10.1) 2, E (11.0) 3; D is not drawn
    assert tl.rank.tolist() == [1, 0, 2, -1, 3]
    assert tl.ttft.rank.tolist() == [0, 1, 3]
    np.testing.assert_allclose(tl.ttft.start_rel_s, [0.0, 0.5, 1.5])
    np.testing.assert_allclose(tl.ttft.end_rel_s, [0.4, 0.7, 1.8])
    assert tl.decode.rank.tolist() == [0, 1]  # E has no decode (first event is the last)
    np.testing.assert_allclose(tl.decode.start_rel_s, [0.4, 0.7])
    np.testing.assert_allclose(tl.decode.end_rel_s, [1.0, 1.5])
    assert len(tl.whole) == 0
    assert tl.failed.rank.tolist() == [2]
    np.testing.assert_allclose(tl.failed.start_rel_s, [0.6])
    np.testing.assert_allclose(tl.failed.end_rel_s, [1.1])
    # hover columns in rank order
    np.testing.assert_allclose(tl.ttft_s, [0.4, 0.2, np.nan, 0.3])
    np.testing.assert_allclose(tl.e2el_s, [1.0, 1.0, 0.5, 0.3])
    assert tl.success.tolist() == [True, True, False, True]
    assert tl.input_tokens.tolist() == [200, 100, 0, 50]
    assert tl.output_tokens.tolist() == [4, 9, 0, 1]


def test_timeline_segments_non_streaming() -> None:
    tl = build_timeline(_mixed_table(), stream=False, origin_s=9.5)
    assert len(tl.ttft) == 0 and len(tl.decode) == 0
    assert tl.whole.rank.tolist() == [0, 1, 3]
    np.testing.assert_allclose(tl.whole.start_rel_s, [0.0, 0.5, 1.5])
    np.testing.assert_allclose(tl.whole.end_rel_s, [1.0, 1.5, 1.8])
    assert np.isnan(tl.ttft_s).all()


def test_inflight_steps_worked_example() -> None:
    # docs/metrics.md: starts 1, 2, 4, 6 s; ends 3.5, 5.5, 7, 9 s (no ties)
    steps = build_inflight_steps(np.array([1.0, 2, 4, 6]), np.array([3.5, 5.5, 7, 9]), origin_s=1.0)
    np.testing.assert_allclose(steps.time_rel_s, [0, 1, 2.5, 3, 4.5, 5, 6, 8])
    assert steps.count.tolist() == [1, 2, 1, 2, 1, 2, 1, 0]


def test_inflight_steps_net_ties_and_ignore_invalid() -> None:
    # back to back: a start and an end at 1 and at 2 net to 0 and leave no step
    steps = build_inflight_steps(np.array([0.0, 1, 2]), np.array([1.0, 2, 3]), origin_s=0.0)
    assert steps.time_rel_s.tolist() == [0.0, 3.0] and steps.count.tolist() == [1, 0]
    # two starts at 0 are one step of +2; at 1 one end and one start net to 0; two ends at 2 -> 0.
    # Requests with end <= start or a NaN time are ignored.
    steps = build_inflight_steps(
        np.array([0.0, 0, 1, 5, np.nan]), np.array([1.0, 2, 2, 5, 3]), origin_s=0.0
    )
    assert steps.time_rel_s.tolist() == [0.0, 2.0] and steps.count.tolist() == [2, 0]
    empty = build_inflight_steps(np.zeros(0), np.zeros(0), origin_s=0.0)
    assert empty.time_rel_s.size == 0 and empty.count.size == 0


@pytest.mark.parametrize(("span", "width"), [(10.0, 0.2), (60.0, 1.0), (600.0, 10.0), (1.0, 0.02), (0.0, 1.0)])
def test_choose_bin_s(span: float, width: float) -> None:
    assert choose_bin_s(span) == pytest.approx(width)


def test_send_rate_bins() -> None:
    planned = np.array([100.0, 100.5, 101.0, 101.5])
    sent = np.array([100.1, 100.6, 100.9, 101.9])
    rate = build_send_rate(planned, sent, origin_s=100.0, bin_s=1.0)
    assert rate is not None
    assert rate.edges_rel_s.tolist() == [0.0, 1.0, 2.0]
    assert rate.expected_rps.tolist() == [2.0, 2.0]
    assert rate.actual_rps.tolist() == [3.0, 1.0]
    half = build_send_rate(planned, sent, origin_s=100.0, bin_s=0.5)
    assert half is not None and half.actual_rps.tolist() == [2.0, 4.0, 0.0, 2.0]
    assert build_send_rate(None, sent, origin_s=100.0) is None
    assert build_send_rate(np.full(4, np.nan), sent, origin_s=100.0) is None


class _View:
    """Attribute access to a figure's dicts (``fig.layout.shapes``, ``trace.error_x.array``); a key
    that is absent reads as None, as in plotly's figure objects."""

    def __init__(self, value: dict[str, Any]) -> None:
        self._value = value

    def __getattr__(self, name: str) -> Any:
        return _view(self._value.get(name))


def _view(value: Any) -> Any:
    if isinstance(value, dict):
        return _View(value)
    if isinstance(value, list):
        return [_view(item) for item in value]
    return value


def _stable_table() -> RequestTable:
    # docs/metrics.md worked example: window [4, 7) s, i.e. 3..6 s after the first send (1 s)
    starts, ends = [1.0, 2.0, 4.0, 6.0], [3.5, 5.5, 7.0, 9.0]
    points = [[s, s + 0.5, e] for s, e in zip(starts, ends, strict=True)]
    return RequestTable.from_columns(points, [True] * 4, [10, 20, 30, 40], [3, 3, 5, 7])


def test_figure_traces_and_window_shading() -> None:
    table = _stable_table()
    summary = compute_summary(table, stage="stable", stats_list=["Average"], batch_size=2, stream=True)
    assert summary.window is not None
    fig = _view(build_figure(table, stream=True, window=summary.window))
    gl = {t.name: t for t in fig.data if t.type == "scattergl"}
    ttft = next(t for t in fig.data if t.type == "scattergl" and t.legendgroup == "ttft")
    assert list(ttft.x) == [0.0, 1.0, 3.0, 5.0] and list(ttft.y) == [0, 1, 2, 3]
    np.testing.assert_allclose(ttft.error_x.array, [0.5] * 4)
    # hover data: TTFT, decode, E2EL (ms), input and output tokens of each request
    np.testing.assert_allclose(ttft.customdata[0], [500, 2000, 2500, 10, 3])
    decode = next(t for t in fig.data if t.type == "scattergl" and t.legendgroup == "decode")
    np.testing.assert_allclose(decode.x, [0.5, 1.5, 3.5, 5.5])
    np.testing.assert_allclose(decode.error_x.array, [2.0, 3.0, 2.5, 2.5])
    assert decode.customdata is None and decode.hoverinfo == "skip"
    legend = [t.name for t in fig.data if t.type == "scatter" and t.legendgroup]
    assert legend == [TRACE_NAMES["ttft"], TRACE_NAMES["decode"]]
    inflight = gl["In flight (successful requests)"]
    assert list(inflight.x) == [0.0, 0.0, 1.0, 2.5, 3.0, 4.5, 5.0, 6.0, 8.0]
    assert list(inflight.y) == [0, 1, 2, 1, 2, 1, 2, 1, 0]
    assert inflight.line.shape == "hv"
    # rows: timeline, TTFT, ITL, output tokens/s, requests/s, in flight (the in-flight trace is on row 6)
    texts = [a.text for a in fig.layout.annotations]
    assert [t for t in texts if not t.startswith(("steady", "batch"))] == [
        "Requests by start time", "TTFT over time (per request, rolling p50/p99 over 0.5 s)",
        "ITL over time (per request, rolling p50/p99 over 0.5 s)", "Output tokens per second (per 0.1 s)",
        "Requests completed per second (per 0.1 s)", "Requests in flight",
    ]
    assert inflight.xaxis == "x6" and inflight.yaxis == "y6"
    # the steady window is shaded on every row, labelled, and batch_size is marked
    rects = [s for s in fig.layout.shapes if s.type == "rect"]
    assert [(s.x0, s.x1, s.xref) for s in rects] == [(3.0, 6.0, "x")] + [(3.0, 6.0, f"x{r}") for r in range(2, 7)]
    assert all(s.fillcolor == COLOURS["window"] for s in rects)
    lines = [s for s in fig.layout.shapes if s.type == "line"]
    assert [(s.y0, s.yref) for s in lines] == [(2, "y6")]
    assert "steady window 3.000–6.000 s (38% of the run)" in texts
    assert "Send rate" not in texts  # not paced: no third row


def test_figure_failed_and_paced() -> None:
    table = _mixed_table()
    scheduled = np.array([10.0, 9.5, 10.1, np.nan, 10.9])
    fig = _view(build_figure(table, stream=True, scheduled_s=scheduled))
    names = [t.name for t in fig.data]
    assert TRACE_NAMES["failed"] in names
    assert "In flight (all requests, failed included)" in names
    assert any(n.startswith("Planned sends/s") for n in names) and any(n.startswith("Actual sends/s") for n in names)
    assert "Send rate" in [a.text for a in fig.layout.annotations]
    failed = next(t for t in fig.data if t.type == "scattergl" and t.legendgroup == "failed")
    assert "FAILED" in failed.hovertemplate
    np.testing.assert_allclose(failed.x, [0.6])
    np.testing.assert_allclose(failed.error_x.array, [0.5])
    assert not [s for s in fig.layout.shapes if s.type == "rect"]


def test_coordinates_float32_for_short_runs_float64_for_long() -> None:
    short = _view(build_figure(_stable_table(), stream=True))
    assert short.data[0].x.dtype == np.float32
    long_points = [[0.0, 1.0, 2.0], [3000.0, 3000.5, 3001.0]]
    long = _view(build_figure(RequestTable.from_columns(long_points, [True, True], [1, 1], [2, 2]), stream=True))
    assert long.data[0].x.dtype == np.float64


def test_summary_panel() -> None:
    summary = compute_summary(_stable_table(), stage="stable", stats_list=["Average", "P99"], batch_size=2, stream=True)
    text = render_summary(summary)
    assert "<td>Benchmark Duration</td><td>3000.0 ms</td>" in text
    assert "<th>Average</th><th>P99</th><th>N</th>" in text
    assert "Steady window: 3.0000 s to 6.0000 s after the first send" in text
    # the doubts about the window come first
    assert text.index("Warning: Steady window is short") < text.index("Steady window: 3.0000 s")
    assert "Metrics not available" in render_summary(None)


def test_write_plot_is_self_contained(tmp_path: Path) -> None:
    table = _stable_table()
    summary = compute_summary(table, stage="stable", stats_list=["Average"], batch_size=2, stream=True)
    path = write_plot(tmp_path / "out" / "tiny_plot.html", table, stream=True, summary=summary, title="m/tiny")
    text = path.read_text(encoding="utf-8")
    assert path.name == "tiny_plot.html"
    assert "<title>m/tiny</title>" in text and "Common metrics (stage: stable)" in text
    scripts = _ScriptTags()
    scripts.feed(text)
    assert scripts.sources == [] and scripts.inline >= 2  # plotly.js is inline, nothing is loaded
    assert "Plotly.newPlot" in text and len(text) > 3_000_000


class _ScriptTags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []
        self.inline = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            src = dict(attrs).get("src")
            if src:
                self.sources.append(src)
            else:
                self.inline += 1


def test_write_plot_without_metrics_with_planned_sends_and_a_failure(tmp_path: Path) -> None:
    table = RequestTable.from_columns([[1.0, 1.2, 2.0], [1.5]], [True, False], [5, 0], [3, 0], end_s=[2.0, 1.6])
    path = write_plot(tmp_path / "r_plot.html", table, stream=True, scheduled_s=np.array([1.0, 1.5]))
    text = path.read_text(encoding="utf-8")
    assert "Metrics not available" in text and "Planned sends" in text and "Failed (send" in text


def test_write_plot_unwritable(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    with pytest.raises(OutputError):
        write_plot(tmp_path / "taken", _stable_table(), stream=True)


def test_the_page_carries_numpy_arrays_as_typed_arrays_with_their_values(tmp_path: Path) -> None:
    path = write_plot(tmp_path / "tiny_plot.html", _stable_table(), stream=True)
    text = path.read_text(encoding="utf-8")
    call = text[text.index('Plotly.newPlot("ais-bench-plot", ') + len('Plotly.newPlot("ais-bench-plot", '):]
    data, _end = json.JSONDecoder().raw_decode(call)
    ttft = next(trace for trace in data if trace.get("legendgroup") == "ttft" and trace["type"] == "scattergl")
    assert ttft["x"]["dtype"] == "f4"
    x = np.frombuffer(base64.b64decode(ttft["x"]["bdata"]), dtype="<f4")
    assert x.tolist() == [0.0, 1.0, 3.0, 5.0]
    hover = ttft["customdata"]
    assert hover["shape"] == "4, 5"
    rows = np.frombuffer(base64.b64decode(hover["bdata"]), dtype="<f4").reshape(4, 5)
    np.testing.assert_allclose(rows[0], [500, 2000, 2500, 10, 3])


@pytest.mark.processes
def test_writing_the_report_does_not_import_plotlys_python_package(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from tests.unit.reports.test_html_report import _stable_table\n"
        "from ais_bench.reports.html_report import write_plot\n"
        f"write_plot({str(tmp_path / 'p.html')!r}, _stable_table(), stream=True)\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] == 'plotly'))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parents[3])
    assert out.stdout.strip() == "[]"
