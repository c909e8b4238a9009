"""The two screen tables (tabulate ``fancy_grid``) and a short notes block."""

from __future__ import annotations

from tabulate import tabulate

from ais_bench.metrics.summary import PerfSummary
from ais_bench.reports.cells import MISSING, format_cell

_TABLE_OPTIONS = {"tablefmt": "fancy_grid", "stralign": "left", "numalign": "center", "missingval": MISSING}


def format_metric_table(summary: PerfSummary) -> str:
    """``Performance Parameters | Stage | <stats...> | N``, one row per per-request metric."""
    headers = ["Performance Parameters", "Stage", *summary.stats_list, "N"]
    rows = [
        [row.name, row.stage, *(format_cell(v, row.unit) for v in row.values), row.n] for row in summary.rows
    ]
    return tabulate(rows, headers=headers, **_TABLE_OPTIONS)


def format_common_table(summary: PerfSummary) -> str:
    """``Common Metric | Stage | Value``, one row per common metric."""
    rows = [[m.name, summary.stage, format_cell(m.value, m.unit)] for m in summary.common]
    return tabulate(rows, headers=["Common Metric", "Stage", "Value"], **_TABLE_OPTIONS)


def format_notes(summary: PerfSummary) -> str:
    """The steady window facts and the warnings, one line each ("" when there is nothing to say)."""
    lines = []
    window = summary.window
    if window is not None:
        lines.append(
            f"Steady window: {window.start_rel_s:.4f} s to {window.end_rel_s:.4f} s after the first send "
            f"({window.duration_s:.4f} s, {window.share:.1%} of the run), {window.requests} requests "
            f"({window.success_requests} succeeded, {window.failed_requests} failed), "
            f"batch_size {window.batch_size}"
        )
    lines += [f"Warning: {text}" for text in summary.warnings]
    return "\n".join(lines)


def format_tables(summary: PerfSummary) -> str:
    """Both tables as the original prints them, then the notes block when there is one."""
    parts = [format_metric_table(summary), format_common_table(summary)]
    notes = format_notes(summary)
    if notes:
        parts.append(notes)
    return "\n".join(parts)
