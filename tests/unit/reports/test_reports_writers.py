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
    assert "│ TPOT                     │ total   │ 133.3 ms" in text  # the 1-token request has no TPOT
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
    # doubts about the window are the first line; the window, its steadiness and intervals follow
    assert text.splitlines()[0].startswith("Warning: Steady window is short (3000.0 ms): only 2 requests")
    assert "its longest request took 3000.0 ms, more than a third of it" in text.splitlines()[0]
    assert "Warning: Steady window: batch_size=2 requests were in flight only 83% of its time" in text
    assert (
        "Steady window: 3.0000 s to 6.0000 s after the first send (3.0000 s, 37.5% of the run), 2 requests "
        "(2 succeeded, 0 failed), batch_size 2: at batch_size 83.3% of the time, mean 1.83 in flight, "
        "longest stretch below 500.0 ms"
    ) in text
    assert "95% confidence intervals (steady stage): n/a, too little data" in text
    assert text.count("Steady window is short") == 1
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
    # full precision: D = 11.4 - 10.0 in floats (AISBench writes "1400.0 ms", 1.5714 and "2.1429 req/s",
    # as the tables still show them)
    duration_s = 11.4 - 10.0
    assert data["Benchmark Duration"] == {"total": f"{duration_s * 1000} ms"} != {"total": "1400.0 ms"}
    assert data["Total Requests"] == {"total": 4}
    assert data["Failed Requests"] == {"total": 1}
    assert data["Concurrency"]["total"] == pytest.approx(2.2 / 1.4, rel=1e-12)
    assert data["Max Concurrency"] == {"total": 2}
    assert data["Request Throughput"] == {"total": f"{3 / duration_s} req/s"}
    assert data["Total Input Tokens"] == {"total": 350}
    assert data["Total Token Throughput"] == {"total": f"{364 / duration_s} token/s"}
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
    assert (window["start_rel_s"], window["end_rel_s"], window["duration_s"]) == (3.0, 6.0, 3.0)
    assert window["requests"] == 2 and window["reliable"] is False and window["share"] == 0.375
    assert window["at_batch_size_share"] == pytest.approx(2.5 / 3) and window["peak_in_flight"] == 2
    assert window["mean_in_flight"] == pytest.approx(5.5 / 3)
    assert window["longest_below_batch_size_s"] == 0.5
    assert window["confidence"] == {
        "Request Throughput": None, "Output Token Throughput": None, "TTFT Median": None, "TPOT Median": None,
    }  # fmt: skip
    assert window["warnings"][0].startswith("Steady window is short")
    assert data["_ais_bench"]["warnings"][: len(window["warnings"])] == window["warnings"]
    assert data["Concurrency"] == {"stable": pytest.approx(5.5 / 3, rel=1e-12)}
    assert data["Max Concurrency"] == {"stable": 2}
    assert json.loads(path.read_text(encoding="utf-8"))["Benchmark Duration"] == {"stable": "3000.0 ms"}


def test_json_and_screen_confidence_intervals(tmp_path: Path) -> None:
    # 3 lanes x 40 rounds of 1 s requests (TTFT 0.5 s, 9 output tokens): every interval exists
    starts = [float(r) for r in range(40) for _ in range(3)]
    points = [[s, s + 0.5, s + 1.0] for s in starts]
    table = RequestTable.from_columns(points, [True] * len(starts), [10] * len(starts), [9] * len(starts))
    summary = compute_summary(table, stage="stable", stats_list=["Median"], batch_size=3, stream=True)
    write_json(summary, tmp_path / "ds.json")
    confidence = read_json(tmp_path / "ds.json")["_ais_bench"]["window"]["confidence"]
    assert confidence["Request Throughput"] == {
        "estimate": pytest.approx(3.0), "low": pytest.approx(3.0), "high": pytest.approx(3.0), "unit": "req/s",
        "method": "batch means", "n": 10,
    }  # fmt: skip
    assert confidence["TTFT Median"]["method"] == "bootstrap" and confidence["TTFT Median"]["unit"] == "ms"
    assert set(confidence) == {"Request Throughput", "Output Token Throughput", "TTFT Median", "TPOT Median"}
    line = next(x for x in format_tables(summary).splitlines() if x.startswith("95% confidence"))
    assert line == (
        "95% confidence intervals (steady stage): Request Throughput 3 to 3 req/s, "
        "Output Token Throughput 27 to 27 token/s, TTFT Median 500 to 500 ms, TPOT Median 62.5 to 62.5 ms"
    )


def test_json_keeps_full_precision_where_tables_and_csv_round(tmp_path: Path) -> None:
    # E2EL mean 2.2/3 s: AISBench's rounding (0.7333 s -> 733.3 ms) only in the table and the csv
    summary = _summary()
    write_json(summary, tmp_path / "ds.json")
    write_csv(summary, tmp_path / "ds.csv")
    assert summary.rows[0].values[0] == pytest.approx(2.2 / 3, rel=1e-12)
    assert read_csv(tmp_path / "ds.csv")[1][2] == "733.3 ms"
    assert "│ 733.3 ms " in format_metric_table(summary)
    data = read_json(tmp_path / "ds.json")
    assert data["Input Token Throughput"] == {"total": f"{350 / (11.4 - 10.0)} token/s"}  # 249.99999999999994
    assert "250.0 token/s" in format_common_table(summary)
    assert "1.5714 " in format_common_table(summary) and data["Concurrency"]["total"] != 1.5714


def test_unwritable_path_raises_output_error(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    with pytest.raises(OutputError):
        write_json(_summary(), tmp_path / "taken")
    with pytest.raises(OutputError):
        write_csv(_summary(), tmp_path / "taken")
