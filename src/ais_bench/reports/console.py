"""The two screen tables and a short notes block: AISBench's layout (tabulate ``fancy_grid``, the
``--wide`` tables) or the compact one (``reports/compact.py``, the default on screen)."""

from __future__ import annotations

from collections.abc import Sequence

from ais_bench.metrics.stage import Interval, StableWindow
from ais_bench.metrics.summary import PerfSummary
from ais_bench.reports.cells import AISBENCH_DECIMALS, MISSING, aisbench_common, aisbench_stat, format_cell
from ais_bench.reports.compact import compact_common_table, compact_metric_table, compact_title
from ais_bench.reports.goodput_text import goodput_lines


def _grid(rows: Sequence[Sequence[object]], headers: Sequence[str]) -> str:
    from tabulate import tabulate  # only for --wide: importing it costs a plain run about 15 ms of CPU

    return tabulate(rows, headers=headers, tablefmt="fancy_grid", stralign="left", numalign="center", missingval=MISSING)


def format_metric_table(summary: PerfSummary) -> str:
    """``Performance Parameters | Stage | <stats...> | N``, one row per per-request metric."""
    headers = ["Performance Parameters", "Stage", *summary.stats_list, "N"]
    rows = [
        [row.name, row.stage, *(format_cell(aisbench_stat(v, row.unit), row.unit) for v in row.values), row.n]
        for row in summary.rows
    ]
    return _grid(rows, headers)


def format_common_table(summary: PerfSummary) -> str:
    """``Common Metric | Stage | Value``, one row per common metric."""
    rows = [[m.name, summary.stage, format_cell(aisbench_common(m.value), m.unit)] for m in summary.common]
    return _grid(rows, ["Common Metric", "Stage", "Value"])


def window_lines(window: StableWindow) -> list[str]:
    """The steady window's facts and its 95 % confidence intervals, one line each."""
    lines = [
        f"Steady window: {window.start_rel_s:.4f} s to {window.end_rel_s:.4f} s after the first send "
        f"({window.duration_s:.4f} s, {window.share:.1%} of the run), {window.requests} requests "
        f"({window.success_requests} succeeded, {window.failed_requests} failed), "
        f"batch_size {window.batch_size}: at batch_size {window.at_batch_size_share:.1%} of the time, "
        f"mean {window.mean_in_flight:.2f} in flight, longest stretch below "
        f"{window.longest_below_batch_size_s * 1000:.1f} ms"
    ]
    intervals = window.confidence
    if intervals:
        head = "95% confidence intervals (steady stage): "
        if all(interval is None for interval in intervals.values()):
            lines.append(head + f"n/a, {_TOO_LITTLE}")
        else:
            cells = ", ".join(f"{name} {_interval_text(interval)}" for name, interval in intervals.items())
            lines.append(head + cells + (f" (n/a: {_TOO_LITTLE})" if None in intervals.values() else ""))
    return lines


_TOO_LITTLE = "too little data: rates need a window of 2 median requests, medians 6 requests"


def _interval_text(interval: Interval | None) -> str:
    if interval is None:
        return "n/a"
    low, high = round(interval.low, AISBENCH_DECIMALS), round(interval.high, AISBENCH_DECIMALS)
    return f"{low:g} to {high:g} {interval.unit}"


def format_headline(summary: PerfSummary) -> str:
    """Doubts about the steady window, shown before the tables ("" when there are none)."""
    if summary.window is None:
        return ""
    return "\n".join(f"Warning: {text}" for text in summary.window.warnings)


def format_notes(summary: PerfSummary) -> str:
    """The steady window facts and the other warnings, one line each ("" when there is nothing to say)."""
    lines = []
    window = summary.window
    headline: tuple[str, ...] = ()
    if window is not None:
        lines += window_lines(window)
        headline = window.warnings
    lines += [f"Warning: {text}" for text in summary.warnings if text not in headline]
    return "\n".join(lines)


def format_title(model_abbr: str, data_abbr: str, *, wide: bool = True) -> str:
    """The line above the tables: AISBench's; the compact one shortens names that would pass 120 columns."""
    if wide:
        return f"Performance Results of task [{model_abbr}/{data_abbr}]:"
    return compact_title(model_abbr, data_abbr)


def format_tables(summary: PerfSummary, *, headline: bool = True, wide: bool = True) -> str:
    """Window doubts first (unless ``headline`` is False: the caller printed them), then both tables
    (``wide``: as the original prints them; else the compact ones), the goodput block (with SLO
    bounds), then the notes block."""
    parts = [format_headline(summary) if headline else ""]
    if wide:
        parts += [format_metric_table(summary), format_common_table(summary)]
    else:
        parts.append(compact_metric_table(summary) + "\n\n" + compact_common_table(summary) + "\n")
    if summary.goodput is not None:
        parts.append("\n".join(goodput_lines(summary.goodput)))
    parts.append(format_notes(summary))
    return "\n".join(part for part in parts if part)
