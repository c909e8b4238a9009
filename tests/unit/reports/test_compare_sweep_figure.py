"""compare.html of sweeps, figure only: each sweep's curves from its sweep.json points, its knee, and
the rings on the compared sweep's points whose drawn statistic differs beyond noise; the printed
tables per metric family (within 120 columns)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ais_bench.metrics.comparison import FASTER, NO_CHANGE, SLOWER, ComparisonRow, DatasetComparison
from ais_bench.reports.compare_sweep_html import build_sweep_compare_figure
from ais_bench.reports.compare_sweep_report import format_sweep_comparison
from ais_bench.sweep.comparison import PointComparison, SweepComparison, SweepLevel, SweepResults


def _sweep(label: str, scale: float, knee: int | None) -> SweepResults:
    points = [
        {"value": v, "status": "ok", "request_throughput": 10.0 * v / scale, "ttft_p50_ms": 10.0 * scale * v,
         "ttft_p99_ms": 20.0 * scale * v, "itl_p50_ms": 2.0 * scale, "itl_p99_ms": 4.0 * scale,
         "e2el_p50_ms": 100.0 * scale, "e2el_p99_ms": 200.0 * scale}
        for v in (1, 2, 4)
    ]
    points.append({"value": 8, "status": "failed", "reason": "All requests failed"})
    document = {"schema": "ais_bench.sweep", "axis": "concurrency", "knee": knee, "points": points}
    return SweepResults(label, Path(label), document, {})


def _row(key: str, verdict: str, a: float = 1.0, b: float = 2.0) -> ComparisonRow:
    unit = "req/s" if key == "request_throughput" else "ms"
    return ComparisonRow(key, unit, a, b, (b - a) / a * 100, verdict, "bootstrap", 10, 10)


def _comparison() -> SweepComparison:
    a, b = _sweep("A", 1.0, knee=2), _sweep("B", 2.0, knee=None)
    verdicts: dict[int, list[ComparisonRow]] = {
        1: [_row("itl.p50", SLOWER), _row("itl.p99", NO_CHANGE)],
        2: [_row("itl.p50", SLOWER), _row("ttft.p99", FASTER, 2.0, 1.0)],
        4: [_row("itl.p50", NO_CHANGE), _row("request_throughput", SLOWER, 4.0, 2.0)],
    }
    points = [PointComparison(v, "B", [DatasetComparison("m/d", "m/d", "B", "total", rows)]) for v, rows in verdicts.items()]
    return SweepComparison([a, b], points, [SweepLevel("B", 2.0, None)])


def _traces(figure: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {trace["name"] + "@" + trace["yaxis"]: trace for trace in figure["data"]}


def test_curves_knee_and_rings() -> None:
    traces = _traces(build_sweep_compare_figure(_comparison()))
    ttft_b = traces["B: ttft p99@y"]
    assert ttft_b["x"] == [5.0, 10.0, 20.0] and ttft_b["y"] == [40.0, 80.0, 160.0]  # the failed point left out
    assert traces["A: request throughput@y4"]["x"] == [1, 2, 4]
    assert "A: SLO attainment@y5" not in traces  # no goodput: no attainment row
    knee = traces["A: knee (concurrency 2)@y"]
    assert (knee["x"], knee["y"]) == ([20.0], [40.0])  # A's p99 TTFT at its knee, against its throughput
    assert not [name for name in traces if name.startswith("B: knee")]
    # rings: ITL p50 slower at 1 and 2 (B's curve: 4 ms at 5 and 10 req/s), TTFT p99 faster at 2,
    # request throughput slower at 4 (on the load axis)
    slower_itl = traces["B: slower beyond noise@y2"]
    assert (slower_itl["x"], slower_itl["y"]) == ([5.0, 10.0], [4.0, 4.0])
    faster_ttft = traces["B: faster beyond noise@y"]
    assert (faster_ttft["x"], faster_ttft["y"]) == ([10.0], [80.0])
    slower_load = traces["B: slower beyond noise@y4"]
    assert (slower_load["x"], slower_load["y"]) == ([4], [20.0])
    assert "B: slower beyond noise@y3" not in traces  # no E2EL verdict beyond noise


def test_printed_tables_per_family() -> None:
    blocks = format_sweep_comparison(_comparison())
    text = "\n".join(blocks)
    assert "m/d (total stage), by concurrency: B (B) against the baseline A (A)" in text
    assert "ITL (ms): concurrency" in text and "TTFT (ms): concurrency" in text
    assert "TPOT (ms)" not in text and "Goodput" not in text  # no point has those rows
    assert "no sig. change" in text
    assert "knee (concurrency): A 2, B none" in blocks[-1]
    assert max(len(line) for line in text.splitlines()) <= 120
