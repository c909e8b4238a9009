"""``<ds>.csv``: the per-request metric statistics, cells as shown on screen (AISBench rounding)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ais_bench.metrics.summary import PerfSummary
from ais_bench.reports.cells import aisbench_stat, text_cell, write_text


def csv_rows(summary: PerfSummary) -> list[list[str]]:
    """Header ``Performance Parameters,Stage,<stat...>,N`` then one row per metric, all strings."""
    rows = [["Performance Parameters", "Stage", *summary.stats_list, "N"]]
    for row in summary.rows:
        rows.append([row.name, row.stage, *(text_cell(aisbench_stat(v, row.unit), row.unit) for v in row.values), str(row.n)])
    return rows


def write_csv(summary: PerfSummary, path: str | Path) -> None:
    """Write the csv (UTF-8); raises ``OutputError`` when the file cannot be written."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(csv_rows(summary))
    write_text(path, buffer.getvalue())


def read_csv(path: str | Path) -> list[list[str]]:
    """The csv back as rows of strings, header first."""
    with Path(path).open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))
