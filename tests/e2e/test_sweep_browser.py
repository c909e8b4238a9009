"""``sweep.html`` opened in headless Chromium with the network off (as ``test_plot_browser.py`` opens the
plot): no JavaScript error, nothing fetched, every curve drawn (a failed point left out), the knee
and the search's target marked."""

from __future__ import annotations

from pathlib import Path

import pytest

from ais_bench.metrics.goodput import SloBound
from ais_bench.reports.sweep_report import SWEEP_DIV_ID, SweepReport, write_sweep_outputs
from ais_bench.sweep.rows import SweepRow, find_knee, unmeasured_row
from ais_bench.sweep.search import SearchPoint, search_max_passing
from ais_bench.sweep.values import AXES
from tests.support.browser import load_page, requires_chromium

pytestmark = requires_chromium()

#: Throughput doubles up to 4 in flight, then stays: the knee is 4; attainment falls beyond 4.
THROUGHPUT = {1: 2.0, 2: 4.0, 4: 8.0, 8: 8.2, 16: 8.1}
ATTAINMENT = {1: 1.0, 2: 1.0, 4: 1.0, 8: 0.4, 16: 0.2}


def _row(value: int) -> SweepRow:
    return SweepRow(
        value=value, status="ok", reason="", run_dir=f"concurrency_{value}", request_throughput=THROUGHPUT[value],
        ttft_p50_ms=100.0 * value, ttft_p99_ms=150.0 * value, e2el_p50_ms=500.0 * value, e2el_p99_ms=600.0 * value,
        goodput_req_s=THROUGHPUT[value] * ATTAINMENT[value], attainment=ATTAINMENT[value],
        attainment_ci_low=ATTAINMENT[value] * 0.8, attainment_ci_high=min(1.0, ATTAINMENT[value] * 1.2),
    )


@pytest.fixture(scope="module")
def sweep_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows = [_row(v) for v in THROUGHPUT] + [unmeasured_row(32, "concurrency_32", "failed", "All requests failed")]
    search = search_max_passing(lambda v: SearchPoint(v, ATTAINMENT.get(int(v), 0.0)), target=0.99, resolution=1,
                                integer=True, max_points=12, max_value=64)
    report = SweepReport(AXES["concurrency"], rows, (SloBound("ttft", 600),), find_knee(rows), search, "m", "d")
    folder = tmp_path_factory.mktemp("sweep")
    write_sweep_outputs(folder, report)
    return folder / "sweep.html"


def test_sweep_page_draws_every_curve_offline(sweep_page: Path, tmp_path: Path) -> None:
    page = load_page(sweep_page, tmp_path, div_id=SWEEP_DIV_ID)
    assert page.errors == []
    assert page.plotly == "object"
    assert page.network == []
    names = [trace["name"] for trace in page.traces]
    assert names == ["TTFT p50", "TTFT p99", "E2EL p50", "E2EL p99", "Request throughput", "Goodput",
                     "SLO attainment", "knee"]
    assert [trace["points"] for trace in page.traces] == [5] * 7 + [1]  # the failed point is left out
    assert page.shapes == 3  # the knee on the two load axes, the search's target
    assert "All requests failed" in page.dom and "highest concurrency meeting SLO attainment" in page.dom
