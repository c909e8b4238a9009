"""The compact screen tables, printed by default: both fit a 120-column terminal.

The full AISBench layout (``reports/console.py``: a unit in every cell, a Stage column, AISBench's
rounding) stays in ``<ds>.csv`` and is printed with ``--wide`` or ``--debug``. Here the stage is
said once in the header, the unit once per group of rows (per-request metrics) or after the metric
name (common metrics), and a row's statistics share one number of decimals chosen from its largest
value, so that every cell is at most ``CELL_CHARS`` wide. The numbers are AISBench's rounded values
(the csv's), shortened; nothing is computed here.

Widest case: 8 statistics (the most a summarizer allows) and N up to 9 digits give
24 + 8 x 8 + 9 + 9 x 2 = 115 columns.
"""

from __future__ import annotations

from collections.abc import Sequence

from ais_bench.metrics.stats import MetricStats
from ais_bench.metrics.summary import PerfSummary
from ais_bench.reports.cells import MISSING, aisbench_common, aisbench_stat

#: The terminal width both tables fit in.
COMPACT_WIDTH = 120
#: The widest number cell: 8 digits, or a value of 1e8 and more in scientific notation (1.23e+08).
CELL_CHARS = 8
_GAP = "  "
_INDENT = "  "
#: The label of the group of rows that share a unit.
_UNIT_GROUPS = {"ms": "time (ms)", "": "tokens", "token/s": "throughput (token/s)"}
_SCIENTIFIC_FROM = 1e8


def row_decimals(largest: float, unit: str) -> int:
    """Decimals shown for a row whose largest absolute value is ``largest``: 3 below 1, 2 below 100,
    1 below 10,000, else 0; a latency (``ms``) never more than 1, the 0.1 ms AISBench keeps."""
    if largest < 1:
        decimals = 3
    elif largest < 100:
        decimals = 2
    elif largest < 10_000:
        decimals = 1
    else:
        decimals = 0
    return min(decimals, 1) if unit == "ms" else decimals


def compact_cells(row: MetricStats) -> list[str]:
    """A row's statistics as AISBench rounds them (display unit), with the row's decimals."""
    shown = [aisbench_stat(value, row.unit) for value in row.values]
    present = [abs(value) for value in shown if value is not None]
    largest = max(present, default=0.0)
    decimals = row_decimals(largest, row.unit)
    cells = []
    for value in shown:
        if value is None:
            cells.append(MISSING)
        elif largest >= _SCIENTIFIC_FROM:
            cells.append(f"{value:.2e}")
        else:
            cells.append(f"{value:.{decimals}f}")
    return cells


def compact_metric_table(summary: PerfSummary) -> str:
    """One row per per-request metric under a line naming its unit; columns: the stats, then N."""
    header = [f"Metric ({summary.stage} stage)", *summary.stats_list, "N"]
    rows: list[list[str]] = []
    unit: str | None = None
    for row in summary.rows:
        if row.unit != unit:
            unit = row.unit
            rows.append([_UNIT_GROUPS.get(unit, unit)])
        rows.append([_INDENT + row.name, *compact_cells(row), str(row.n)])
    return _layout(header, rows)


def compact_common_table(summary: PerfSummary) -> str:
    """One row per common metric, its unit after its name, its value as AISBench rounds it."""
    rows = [
        [f"{metric.name} ({metric.unit})" if metric.unit else metric.name, str(aisbench_common(metric.value))]
        for metric in summary.common
    ]
    return _layout([f"Common Metric ({summary.stage} stage)", "Value"], rows)


def compact_title(model_abbr: str, data_abbr: str) -> str:
    """``Performance Results of task [<model>/<ds>]:`` with names so long that the line would pass
    ``COMPACT_WIDTH`` shortened in their middle (the folder line under the tables names them whole)."""
    title = f"Performance Results of task [{model_abbr}/{data_abbr}]:"
    excess = len(title) - COMPACT_WIDTH
    if excess <= 0:
        return title
    room = len(model_abbr) + len(data_abbr) - excess
    model_room = min(len(model_abbr), max(room - len(data_abbr), room // 2))  # a short name stays whole
    return f"Performance Results of task [{_shorten(model_abbr, model_room)}/{_shorten(data_abbr, room - model_room)}]:"


def _shorten(name: str, chars: int) -> str:
    """``name`` in at most ``chars`` characters (at least 3), its middle replaced by ``...``."""
    chars = max(chars, 3)
    if len(name) <= chars:
        return name
    keep = chars - 3
    return name[: (keep + 1) // 2] + "..." + name[len(name) - keep // 2 :]


def _layout(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns two spaces apart: the first left-aligned, the others right-aligned; a dashed line
    under the header. A row shorter than the header (a unit group's label) has only its first cell."""
    widths = [len(cell) for cell in header]
    for row in rows:
        if len(row) == len(header):
            widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]
    widths[0] = max(widths[0], *(len(row[0]) for row in rows)) if rows else widths[0]
    lines = [_line(header, widths), _GAP.join("-" * width for width in widths)]
    lines += [_line(row, widths) if len(row) == len(header) else row[0] for row in rows]
    return "\n".join(lines)


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    first = cells[0].ljust(widths[0])
    rest = [cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True)]
    return _GAP.join([first, *rest]).rstrip()
