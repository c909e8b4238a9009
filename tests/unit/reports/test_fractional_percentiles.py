"""A fractional percentile (``P99.9``) is a column of both tables and the csv, and a key of both json
files, with the value numpy's linear rule gives (computed here by hand)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ais_bench.metrics import compute_summary
from ais_bench.records.record import RequestTable
from ais_bench.reports import format_tables, read_csv, write_csv
from ais_bench.reports.summary_json import SummaryContext, write_summary_json

STATS = ["Median", "P99.9"]


def test_p99_9_in_tables_csv_and_summary_json(tmp_path: Path) -> None:
    # E2EL [1.0, 0.8, 0.4] s: P99.9 at index 2 * 0.999 = 1.998 -> 0.8 + 0.998 * 0.2 = 0.9996 s = 999.6 ms;
    # input tokens [100, 200, 50]: 100 + 0.998 * 100 = 199.8
    points = [[10.0, 10.2, 10.3, 10.45, 11.0], [10.5, 10.8, 11.1, 11.3], [11.0, 11.4]]
    table = RequestTable.from_columns(points, [True] * 3, [100, 200, 50], [9, 4, 1])
    summary = compute_summary(table, stage="total", stats_list=STATS, batch_size=2, stream=True)
    write_csv(summary, tmp_path / "ds.csv")
    rows = {row[0]: row for row in read_csv(tmp_path / "ds.csv")}
    assert rows["Performance Parameters"] == ["Performance Parameters", "Stage", "Median", "P99.9", "N"]
    assert rows["E2EL"][3] == "999.6 ms" and rows["InputTokens"][3] == "199.8"
    wide = format_tables(summary)
    assert "│ P99.9" in wide and "999.6 ms" in wide
    compact = format_tables(summary, wide=False).splitlines()
    assert compact[0].split()[-2:] == ["P99.9", "N"]
    e2el = next(line for line in compact if line.strip().startswith("E2EL")).split()
    assert e2el == ["E2EL", "800.0", "999.6", "3"]
    write_summary_json(summary, SummaryContext("m", "ds", "", {}), tmp_path / "ds_summary.json")
    document = json.loads((tmp_path / "ds_summary.json").read_text())
    assert document["stats"] == STATS
    assert document["metrics"]["E2EL"]["values"]["P99.9"] == pytest.approx(999.6, rel=1e-12)
    assert document["metrics"]["InputTokens"]["values"]["P99.9"] == pytest.approx(199.8, rel=1e-12)
