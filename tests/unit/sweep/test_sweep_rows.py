"""A sweep row's values from a run summary computed on hand-made timestamps; the knee; the files."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from ais_bench.metrics import compute_summary
from ais_bench.metrics.goodput import SloBound
from ais_bench.records.record import RequestTable
from ais_bench.reports.sweep_report import SweepReport, sweep_csv, sweep_document, write_sweep_outputs
from ais_bench.sweep.rows import SweepRow, find_knee, row_from_summary, unmeasured_row
from ais_bench.sweep.search import SearchPoint, search_max_passing
from ais_bench.sweep.values import AXES

# Three streamed requests (TTFT 0.2, 0.3, 0.4 s; E2EL 1.0, 1.5, 1.5 s; 5 output tokens each) and a
# failed one; the run spans 10.0 .. 12.0 s.
POINTS = [[10.0, 10.2, 11.0], [10.0, 10.3, 11.5], [10.5, 10.9, 12.0], []]


def _summary(stats: tuple[str, ...] = ("Average", "Median", "P90", "P99")):  # type: ignore[no-untyped-def]
    table = RequestTable.from_columns(POINTS, [True, True, True, False], [10, 10, 10, 0], [5, 5, 5, 0])
    return compute_summary(table, stage="total", stats_list=stats, batch_size=4, stream=True,
                           slo=(SloBound("ttft", 350),))


def test_row_from_a_known_summary() -> None:
    row = row_from_summary(4, "concurrency_4", _summary())
    assert (row.value, row.status, row.reason, row.run_dir) == (4, "ok", "", "concurrency_4")
    assert (row.requests, row.failed_requests) == (4, 1)
    assert row.request_throughput == pytest.approx(3 / 2.0)  # 3 successful over 2 s
    assert row.output_token_throughput == pytest.approx(15 / 2.0)
    # linear percentiles of [0.2, 0.3, 0.4] s: p50 0.3, p90 0.3 + 0.8 * 0.1, p99 0.3 + 0.98 * 0.1
    assert (row.ttft_p50_ms, row.ttft_p90_ms, row.ttft_p99_ms) == pytest.approx((300, 380, 398))
    assert (row.e2el_p50_ms, row.e2el_p90_ms, row.e2el_p99_ms) == pytest.approx((1500, 1500, 1500))
    # TPOT = (E2EL - TTFT) / 4: 0.2, 0.3, 0.275 s
    assert row.tpot_p50_ms == pytest.approx(275)
    # ttft <= 350 ms: 2 good of 4 requests (the failed one is not good), over the 2 s run
    assert (row.good_requests, row.attainment, row.goodput_req_s) == (2, 0.5, pytest.approx(1.0))
    assert row.attainment_ci_low is not None and row.attainment_ci_low < 0.5 < (row.attainment_ci_high or 0)
    assert row.steady_share is None  # total stage: no steady window


def test_a_percentile_the_summarizer_leaves_out_is_empty() -> None:
    row = row_from_summary(4, "concurrency_4", _summary(("Average", "P99")))
    assert row.ttft_p50_ms is None and row.ttft_p90_ms is None
    assert row.ttft_p99_ms == pytest.approx(398)


def _ok(value: float, throughput: float) -> SweepRow:
    return SweepRow(value=value, status="ok", reason="", run_dir=f"concurrency_{value:g}", request_throughput=throughput)


def test_knee_is_where_throughput_stops_following_the_load() -> None:
    rows = [_ok(1, 1.0), _ok(2, 1.9), _ok(4, 3.7), _ok(8, 4.0), _ok(16, 4.1)]
    assert find_knee(rows) == 4
    # order of measurement does not matter; failed points are skipped
    assert find_knee([rows[3], unmeasured_row(3, "c3", "failed", "x"), rows[0], rows[2], rows[1]]) == 4
    # 2 -> 4 is +100 % load for +40 % throughput: below half the load's growth
    assert find_knee([_ok(1, 1.0), _ok(2, 2.0), _ok(4, 2.8)]) == 2
    assert find_knee([_ok(1, 1.0), _ok(2, 2.0), _ok(4, 3.2)]) is None  # +60 % keeps up
    assert find_knee([_ok(1, 1.0)]) is None


def _report(rows: list[SweepRow], *, search: bool = False) -> SweepReport:
    outcome = None
    if search:
        attainment = {r.value: r.attainment for r in rows}
        outcome = search_max_passing(lambda v: SearchPoint(v, attainment.get(v)), target=0.99, resolution=1,
                                     integer=True, max_points=12, max_value=64)
    return SweepReport(AXES["concurrency"], rows, (SloBound("ttft", 350),), find_knee(rows), outcome, "m", "d")


def test_sweep_json_lists_every_point_and_its_folder() -> None:
    failed = unmeasured_row(8, "concurrency_8", "failed", "All requests failed")
    document = sweep_document(_report([row_from_summary(4, "concurrency_4", _summary()), failed]))
    assert (document["schema"], document["schema_version"], document["kind"]) == ("ais_bench.sweep", 1, "sweep")
    assert document["axis"] == "concurrency" and document["slo_ms"] == {"ttft": 350}
    assert document["run_dirs"] == ["concurrency_4", "concurrency_8"]
    first, second = document["points"]
    assert first["value"] == 4 and isinstance(first["value"], int)
    assert first["attainment"] == 0.5 and first["ttft_p90_ms"] == pytest.approx(380)
    assert (second["status"], second["reason"], second["request_throughput"]) == ("failed", "All requests failed", None)
    assert "max_passing" not in document


def test_search_document_has_the_answer() -> None:
    rows = [SweepRow(value=v, status="ok", reason="", run_dir=f"concurrency_{v}", attainment=1.0 if v <= 2 else 0.0)
            for v in (1, 2, 4, 3)]
    document = sweep_document(_report(rows, search=True))
    assert (document["kind"], document["max_passing"], document["min_failing"]) == ("slo_search", 2, 3)
    assert document["slo_attainment_target"] == 0.99 and document["resolution"] == 1
    assert document["confidence"].startswith("highest concurrency meeting SLO attainment >= 0.99: 2")


def test_csv_and_files(tmp_path: Path) -> None:
    report = _report([row_from_summary(4, "concurrency_4", _summary()), unmeasured_row(8, "concurrency_8", "unsteady", "no steady stage")])
    rows = list(csv.DictReader(io.StringIO(sweep_csv(report))))
    assert [r["value"] for r in rows] == ["4", "8"]
    assert rows[0]["attainment"] == "0.5" and rows[1]["status"] == "unsteady" and rows[1]["attainment"] == ""
    assert list(rows[0]) == SweepRow.columns()
    write_sweep_outputs(tmp_path, report)
    assert json.loads((tmp_path / "sweep.json").read_text())["run_dirs"] == ["concurrency_4", "concurrency_8"]
    page = (tmp_path / "sweep.html").read_text()
    assert page.count("Plotly.newPlot(") == 1 and "no steady stage" in page
