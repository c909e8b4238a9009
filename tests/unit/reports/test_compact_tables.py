"""The compact screen tables (the default): units once per group or after the name, a row's
decimals from its largest value, and every line within 120 columns whatever the values."""

from __future__ import annotations

from ais_bench.metrics import compute_summary
from ais_bench.metrics.common import CommonMetric
from ais_bench.metrics.stats import MetricStats
from ais_bench.metrics.summary import PerfSummary
from ais_bench.records.record import RequestTable
from ais_bench.reports.compact import (
    COMPACT_WIDTH,
    compact_cells,
    compact_common_table,
    compact_metric_table,
    compact_title,
    row_decimals,
)
from ais_bench.reports.console import format_tables, format_title

STATS = ["Average", "Min", "Max", "Median", "P75", "P90", "P99"]
EIGHT_STATS = ("Average", "Min", "Max", "Median", "P75", "P90", "P99", "P99.9")


def _summary() -> PerfSummary:
    # E2EL [1.0, 0.8, 0.4] s, TTFT [0.2, 0.3, 0.4] s, tokens in [100, 200, 50] / out [9, 4, 1]
    # (hand-computed in tests/unit/metrics/test_metrics_summary.py); plus one failed request
    points = [[10.0, 10.2, 10.3, 10.45, 11.0], [10.5, 10.8, 11.1, 11.3], [11.0, 11.4], []]
    table = RequestTable.from_columns(points, [True, True, True, False], [100, 200, 50, 0], [9, 4, 1, 0])
    return compute_summary(table, stage="total", stats_list=STATS, batch_size=2, stream=True)


def _cells(line: str) -> list[str]:
    return line.split()


def test_metric_rows_grouped_under_their_unit() -> None:
    lines = compact_metric_table(_summary()).splitlines()
    assert _cells(lines[0]) == ["Metric", "(total", "stage)", *STATS, "N"]
    assert set(lines[1]) == {"-", " "}
    assert lines[2] == "time (ms)"
    # E2EL mean 2.2/3 s = 733.3 ms (AISBench's 0.1 ms), the hand-computed percentiles of [400, 800, 1000]
    assert _cells(lines[3]) == ["E2EL", "733.3", "400.0", "1000.0", "800.0", "900.0", "960.0", "996.0", "3"]
    # TPOT (1.0 - 0.2) / 8 and (0.8 - 0.3) / 3 s; the 1-token request has none
    assert _cells(lines[5])[:4] == ["TPOT", "133.3", "100.0", "166.7"] and _cells(lines[5])[-1] == "2"
    tokens = lines.index("tokens")
    assert _cells(lines[tokens + 1])[:4] == ["InputTokens", "116.7", "50.0", "200.0"]  # 116.6667 in the csv
    assert "throughput (token/s)" in lines
    assert " ms" not in "\n".join(lines[3:])  # no unit in the cells


def test_common_metrics_name_their_unit_once() -> None:
    lines = compact_common_table(_summary()).splitlines()
    values = {line.rsplit("  ", 1)[0].strip(): line.rsplit(" ", 1)[1] for line in lines[2:]}
    assert values["Benchmark Duration (ms)"] == "1400.0"
    assert values["Request Throughput (req/s)"] == "2.1429"
    assert values["Concurrency"] == "1.5714" and values["Total Requests"] == "4"
    assert values["Input Token Throughput (token/s)"] == "250.0"


def test_row_decimals_follow_the_largest_value() -> None:
    assert [row_decimals(v, "") for v in (0.5, 99.0, 9999.0, 10_000.0)] == [3, 2, 1, 0]
    assert [row_decimals(v, "ms") for v in (0.5, 99.0, 9999.0, 10_000.0)] == [1, 1, 1, 0]
    row = MetricStats("OutputTokens", "total", ("Average", "Max"), (0.25, 3e8), "", 2)
    assert compact_cells(row) == ["2.50e-01", "3.00e+08"]
    missing = MetricStats("TTFT", "total", ("Average",), (None,), "ms", 0)
    assert compact_cells(missing) == ["N/A"]


def _huge_summary() -> PerfSummary:
    """8 statistics, values of every size up to 1e9 in each unit, N of 9 digits."""
    values = (123456789.0, 0.000123, 98765432.1, 5e8, 1e9, 7777777.7, 0.5, 99999999.9)
    rows = [
        MetricStats(name, "stable", EIGHT_STATS, values, unit, 123_456_789)
        for name, unit in [
            ("E2EL", "ms"), ("TTFT", "ms"), ("TPOT", "ms"), ("ITL", "ms"), ("InputTokens", ""),
            ("OutputTokens", ""), ("OutputTokenThroughput", "token/s"), ("PrefillTokenThroughput", "token/s"),
            ("SlotWait", "ms"),
        ]
    ]
    common = [
        CommonMetric("Benchmark Duration", 86_400_000.123456789, "ms"),
        CommonMetric("Total Requests", 123_456_789, ""),
        CommonMetric("Output Token Throughput", 123_456_789.123456, "token/s"),
    ]
    return PerfSummary("stable", EIGHT_STATS, rows, common)


def test_every_line_fits_120_columns_with_8_stats_and_huge_values() -> None:
    text = format_tables(_huge_summary(), wide=False)
    widths = [len(line) for line in text.splitlines()]
    assert max(widths) <= COMPACT_WIDTH, text
    wide = format_tables(_huge_summary(), wide=True)
    assert max(len(line) for line in wide.splitlines()) > COMPACT_WIDTH  # what the compact layout avoids


def test_title_shortens_long_names_to_fit() -> None:
    assert compact_title("m", "ds") == "Performance Results of task [m/ds]:" == format_title("m", "ds")
    model, data = "qwen2.5-72b-instruct-" * 5, "sharegpt-v3-unfiltered-" * 5
    title = format_title(model, data, wide=False)
    assert len(title) == COMPACT_WIDTH and "..." in title
    assert title.startswith("Performance Results of task [qwen2.5-72b") and title.endswith("unfiltered-]:")
    assert format_title(model, data) == f"Performance Results of task [{model}/{data}]:"  # --wide: as AISBench
