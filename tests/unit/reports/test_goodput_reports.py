"""Goodput in the writers: the console block under the tables, ``_ais_bench.goodput``, the summary json,
the HTML panel."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from ais_bench.metrics import PerfSummary, SloBound, compute_summary
from ais_bench.records.record import RequestTable
from ais_bench.reports import format_tables, read_json, write_json
from ais_bench.reports.html_page import render_summary
from ais_bench.reports.summary_json import SummaryContext, summary_schema, write_summary_json


def _summary(*bounds: SloBound) -> PerfSummary:
    # TTFT 0.25, 0.5, 0.125, 0.25 s; E2EL 1, 1, 1, 0.25 s; one failed; D = 2 s
    # (tests/unit/metrics/test_metrics_goodput.py computes the goodput by hand)
    points = [[0.0, 0.25, 0.5, 0.75, 1.0], [0.5, 1.0, 1.5], [1.0, 1.125, 2.0], [1.5, 1.75], [2.0]]
    table = RequestTable.from_columns(points, [True] * 4 + [False], [10] * 5, [4, 3, 2, 1, 0])
    return compute_summary(table, stage="total", batch_size=2, stream=True, slo=bounds)


BOUNDS = (SloBound("ttft", 250), SloBound("e2el", 999))


def test_console_block_follows_the_tables() -> None:
    text = format_tables(_summary(*BOUNDS))
    lines = text.splitlines()
    start = lines.index("Goodput (total stage, SLO ttft <= 250 ms, e2el <= 999 ms): 0.5 req/s")
    assert lines[start - 1].startswith("╘")  # right under the common metrics table
    assert lines[start + 1] == "SLO attainment: 1 of 5 requests (20.0%, 95% CI 3.6% to 62.4%, Wilson) met every bound"
    assert lines[start + 2] == "Not good: 1 failed; over ttft 250 ms: 1, over e2el 999 ms: 3; most missed: e2el"


def test_tables_without_slo_are_unchanged() -> None:
    plain = _summary()
    assert plain.goodput is None
    assert "Goodput" not in format_tables(plain)


def test_json_goodput_entry(tmp_path: Path) -> None:
    path = tmp_path / "ds.json"
    write_json(_summary(*BOUNDS), path)
    goodput = read_json(path)["_ais_bench"]["goodput"]
    assert goodput["stage"] == "total"
    assert goodput["slo_ms"] == {"ttft": 250.0, "e2el": 999.0}
    assert goodput["goodput_req_s"] == 0.5 and goodput["duration_s"] == 2.0
    assert (goodput["requests"], goodput["good_requests"], goodput["failed_requests"]) == (5, 1, 1)
    assert goodput["attainment"] == 0.2
    assert goodput["attainment_ci"]["method"] == "wilson"
    assert goodput["attainment_ci"]["low"] == pytest.approx(0.036223, abs=1e-5)
    assert goodput["attainment_ci"]["high"] == pytest.approx(0.624474, abs=1e-5)
    assert goodput["goodput_ci"] is None
    assert goodput["missed"] == {"ttft": 1, "e2el": 3}
    assert goodput["most_missed"] == "e2el"
    write_json(_summary(), path)
    assert "goodput" not in read_json(path)["_ais_bench"]


def test_html_panel_has_a_goodput_table() -> None:
    html = render_summary(_summary(*BOUNDS))
    assert '<table class="goodput"><caption>Goodput (stage: total; SLO ttft &lt;= 250 ms, e2el &lt;= 999 ms)' in html
    assert "<td>Goodput</td><td>0.5 req/s</td>" in html
    assert "most missed: e2el" in html
    assert 'class="goodput"' not in render_summary(_summary())


def test_summary_json_goodput_entry_in_base_units(tmp_path: Path) -> None:
    path = tmp_path / "ds_summary.json"
    write_summary_json(_summary(*BOUNDS), SummaryContext("m", "ds", "", {}), path)
    document = json.loads(path.read_text())
    jsonschema.Draft202012Validator(summary_schema()).validate(document)
    goodput = document["goodput"]
    assert goodput["slo_ms"] == {"ttft": 250.0, "e2el": 999.0}
    assert goodput["goodput_req_s"] == 0.5 and goodput["duration_ms"] == 2000.0
    assert (goodput["good_requests"], goodput["requests"], goodput["attainment"]) == (1, 5, 0.2)
    assert goodput["attainment_ci"]["unit"] == "share" and goodput["attainment_ci"]["method"] == "wilson"
    assert goodput["missed"] == {"ttft": 1, "e2el": 3} and goodput["most_missed"] == "e2el"
    write_summary_json(_summary(), SummaryContext("m", "ds", "", {}), path)
    assert "goodput" not in json.loads(path.read_text())
