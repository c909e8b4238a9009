"""The summary's JSON Schema names what the metrics code produces, and non-finite numbers become null."""

from __future__ import annotations

import json
from pathlib import Path

from ais_bench.metrics import COMMON_METRIC_NAMES
from ais_bench.metrics.common import CommonMetric
from ais_bench.metrics.stats import MetricStats
from ais_bench.metrics.summary import METRIC_ROW_NAMES, PerfSummary
from ais_bench.reports.summary_json import SummaryContext, config_digest, summary_schema, write_summary_json


def test_schema_names_every_metric_row() -> None:
    names = summary_schema()["properties"]["metrics"]["propertyNames"]["enum"]
    assert names == list(METRIC_ROW_NAMES)
    assert len(COMMON_METRIC_NAMES) == 12


def test_latencies_in_ms_and_nan_as_null(tmp_path: Path) -> None:
    rows = [MetricStats("TTFT", "total", ("Average", "P99.9"), (0.0125, float("nan")), "ms", 3)]
    common = [CommonMetric("Benchmark Duration", 1500.0, "ms"), CommonMetric("Total Requests", 3, "")]
    path = tmp_path / "ds_summary.json"
    write_summary_json(PerfSummary("total", ("Average", "P99.9"), rows, common), SummaryContext("m", "d", "", {}), path)
    document = json.loads(path.read_text())
    assert document["metrics"]["TTFT"] == {"unit": "ms", "n": 3, "values": {"Average": 12.5, "P99.9": None}}
    assert document["common"]["Total Requests"] == {"value": 3, "unit": "requests"}
    assert document["config_digest"] is None and document["client_self_check"] is None
    assert config_digest("x") == "sha256:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"
