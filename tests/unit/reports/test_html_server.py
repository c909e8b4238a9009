"""The server rows of the concurrency report: under in flight, one trace per gauge, on the run's time axis."""

from __future__ import annotations

import numpy as np

from ais_bench.records.record import RequestTable
from ais_bench.reports.html_figure import build_figure, build_report_data, build_time_figure
from ais_bench.server_metrics.derive import GaugeSeries


def two_requests() -> RequestTable:
    """r0: sent at 0, token events at 1, 2, 3, 4 (8 tokens); r1: sent at 0, events at 5, 6 (4 tokens)."""
    points = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 0.0, 5.0, 6.0])
    return RequestTable(
        start_s=np.array([0.0, 0.0]), end_s=np.array([4.0, 6.0]), success=np.array([True, True]),
        input_tokens=np.array([10, 10]), output_tokens=np.array([8, 4]), offsets=np.array([0, 5, 8]),
        time_points_s=points,
    )


def _titles(figure: dict) -> list[str]:
    return [a["text"] for a in figure["layout"]["annotations"] if a.get("yref") == "paper"]


def test_server_gauges_are_rows_under_in_flight_on_the_run_clock() -> None:
    table = two_requests()
    times = np.array([0.0, 2.0, 5.5])
    gauges = [GaugeSeries("vllm", (times, np.array([0.0, 2.0, 1.0])), None, (times, np.array([0.0, 0.5, 0.25])))]
    figure = build_time_figure(build_report_data(table, stream=True), None, gauges)
    titles = _titles(figure)
    inflight = titles.index("Requests in flight")
    assert titles[inflight + 1].startswith("Server: requests running and waiting")
    assert titles[inflight + 2].startswith("Server: KV-cache usage")
    traces = {t["name"]: t for t in figure["data"] if str(t.get("name", "")).startswith("Server:")}
    assert set(traces) == {"Server: vllm running", "Server: vllm kv usage"}
    assert traces["Server: vllm running"]["yaxis"] == f"y{inflight + 2}"
    assert traces["Server: vllm kv usage"]["y"].tolist() == [0.0, 50.0, 25.0]
    assert np.asarray(traces["Server: vllm running"]["x"]).tolist() == [0.0, 2.0, 5.5]  # first send at 0


def test_no_gauges_no_server_rows() -> None:
    assert not any(t.startswith("Server:") for t in _titles(build_figure(two_requests(), stream=True)))
