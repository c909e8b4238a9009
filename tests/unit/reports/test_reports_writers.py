from __future__ import annotations

import json
from pathlib import Path

import pytest

from ais_bench.errors import OutputError
from ais_bench.metrics import COMMON_METRIC_NAMES, PerfSummary, compute_summary
from ais_bench.records.record import RequestTable
from ais_bench.reports import format_tables, read_csv, read_json, write_csv, write_json
from ais_bench.reports.console import format_common_table, format_metric_table

STATS = ["Average", "Min", "Max", "Median", "P75", "P90", "P99"]


def _summary(stage: str = "total") -> PerfSummary:
    # E2EL [1.0, 0.8, 0.4] s, TTFT [0.2, 0.3, 0.4] s, tokens in [100, 200, 50] / out [9, 4, 1]
    # (hand-computed in tests/unit/metrics/test_metrics_summary.py); plus one failed request
    points = [[10.0, 10.2, 10.3, 10.45, 11.0], [10.5, 10.8, 11.1, 11.3], [11.0, 11.4], []]
    table = RequestTable.from_columns(points, [True, True, True, False], [100, 200, 50, 0], [9, 4, 1, 0])
    return compute_summary(table, stage=stage, stats_list=STATS, batch_size=2, stream=True)


def _stable_summary() -> PerfSummary:
    starts, ends = [1.0, 2.0, 4.0, 6.0], [3.5, 5.5, 7.0, 9.0]
    points = [[s, s + 0.5, e] for s, e in zip(starts, ends, strict=True)]
    table = RequestTable.from_columns(points, [True] * 4, [10, 20, 30, 40], [3, 3, 5, 7])
    return compute_summary(table, stage="stable", stats_list=["Average"], batch_size=2, stream=True)


def test_metric_table_layout() -> None:
    text = format_metric_table(_summary())
    lines = text.splitlines()
    assert lines[0].startswith("╒") and lines[-1].startswith("╘")  # fancy_grid
    header = [cell.strip() for cell in lines[1].strip("│").split("│")]
    assert header == ["Performance Parameters", "Stage", *STATS, "N"]
    e2el = [cell.strip() for cell in lines[3].strip("│").split("│")]
    assert e2el == [
        "E2EL",
        "total",
        "733.3 ms",
        "400.0 ms",
        "1000.0 ms",
        "800.0 ms",
        "900.0 ms",
        "960.0 ms",
        "996.0 ms",
        "3",
    ]
    assert "│ 116.6667 " in text  # token counts are plain numbers, left-aligned like the strings
    assert "430.5556 token/s" in text
    assert "│ TPOT                     │ total   │ 88.9 ms" in text
    assert "│  2  │" in text  # N is numeric: centred


def test_common_table_layout() -> None:
    text = format_common_table(_summary())
    header = [cell.strip() for cell in text.splitlines()[1].strip("│").split("│")]
    assert header == ["Common Metric", "Stage", "Value"]
    cells = [[c.strip() for c in line.strip("│").split("│")] for line in text.splitlines()[3::2]]
    assert [c[0] for c in cells] == list(COMMON_METRIC_NAMES)
    values = {c[0]: c[2] for c in cells}
    assert values["Benchmark Duration"] == "1400.0 ms" and values["Request Throughput"] == "2.1429 req/s"
    assert values["Input Token Throughput"] == "250.0 token/s" and values["Concurrency"] == "1.5714"
    assert values["Total Requests"] == "4" and all(c[1] == "total" for c in cells)


def test_missing_value_is_na() -> None:
    summary = _summary()
    row = summary.rows[0]
    blank = type(row)(row.name, row.stage, row.stats, (None,) * len(row.stats), row.unit, row.n)
    text = format_metric_table(PerfSummary(summary.stage, summary.stats_list, [blank], summary.common))
    assert text.count("N/A") == len(STATS)


def test_format_tables_with_notes() -> None:
    text = format_tables(_stable_summary())
    assert "Common Metric" in text and "Performance Parameters" in text
    assert "Steady window: 3.0000 s to 5.0000 s after the first send (2.0000 s, 25.0% of the run)" in text
    assert "Warning: Steady window: the longest request" in text
    assert "Steady window" not in format_tables(_summary()).split("Warning")[0]


def test_csv_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "out" / "ds.csv"
    summary = _summary()
    write_csv(summary, path)
    rows = read_csv(path)
    assert rows[0] == ["Performance Parameters", "Stage", *STATS, "N"]
    assert rows[1] == [
        "E2EL",
        "total",
        "733.3 ms",
        "400.0 ms",
        "1000.0 ms",
        "800.0 ms",
        "900.0 ms",
        "960.0 ms",
        "996.0 ms",
        "3",
    ]
    assert rows[5][:4] == ["InputTokens", "total", "116.6667", "50.0"]
    assert [r[0] for r in rows[1:]] == [r.name for r in summary.rows]
    assert path.read_text(encoding="utf-8").startswith("Performance Parameters,Stage,Average,")


def test_json_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "ds.json"
    write_json(_summary(), path)
    data = read_json(path)
    assert list(data) == [*COMMON_METRIC_NAMES, "_ais_bench"]
    assert data["Benchmark Duration"] == {"total": "1400.0 ms"}
    assert data["Total Requests"] == {"total": 4}
    assert data["Failed Requests"] == {"total": 1}
    assert data["Concurrency"] == {"total": 1.5714}
    assert data["Max Concurrency"] == {"total": 2}
    assert data["Request Throughput"] == {"total": "2.1429 req/s"}
    assert data["Total Input Tokens"] == {"total": 350}
    assert data["Total Token Throughput"] == {"total": "260.0 token/s"}
    assert data["_ais_bench"] == {
        "stage": "total",
        "window": None,
        "warnings": ["1 of 4 requests failed in the total stage"],
    }
    assert path.read_text(encoding="utf-8").startswith('{\n    "Benchmark Duration": {\n        "total"')


def test_json_stable_window(tmp_path: Path) -> None:
    path = tmp_path / "ds.json"
    write_json(_stable_summary(), path)
    data = read_json(path)
    window = data["_ais_bench"]["window"]
    assert (window["start_rel_s"], window["end_rel_s"], window["duration_s"]) == (3.0, 5.0, 2.0)
    assert window["requests"] == 2 and window["reliable"] is False and window["share"] == 0.25
    assert data["Concurrency"] == {"stable": 2}
    assert json.loads(path.read_text(encoding="utf-8"))["Benchmark Duration"] == {"stable": "2000.0 ms"}


def test_unwritable_path_raises_output_error(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    with pytest.raises(OutputError):
        write_json(_summary(), tmp_path / "taken")
    with pytest.raises(OutputError):
        write_csv(_summary(), tmp_path / "taken")
