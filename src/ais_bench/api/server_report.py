"""The server metrics part of a run's results (``--server-metrics``): the saved series read back,
derived for the total and steady stages, cross-checked against the client, shown in one line per
stage and server and written under ``_ais_bench.server_metrics`` (and ``<ds>_summary.json``).

A recalculation runs the same code on the saved series, so it re-derives everything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ais_bench.errors import NoSteadyStage
from ais_bench.metrics.stable_stage import find_stable_window
from ais_bench.metrics.summary import PerfSummary
from ais_bench.records.details_h5 import read_server_series_h5
from ais_bench.records.record import RequestTable
from ais_bench.records.server_series import ServerSeries, read_server_series_csv, server_metrics_csv_path
from ais_bench.server_metrics import StageWindow, derive
from ais_bench.server_metrics.cross_check import cross_check
from ais_bench.server_metrics.derive import GaugeStats, HistogramStats, ServerDerived

#: The run fact the scraper leaves (``ScrapeReport.to_json_dict``).
SCRAPE_FACT = "server_metrics_scrape"


@dataclass
class ServerMetricsResult:
    """``entry``: the json's ``server_metrics``; ``warnings``: the cross-check's; ``lines``: for the screen."""

    entry: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


def load_server_series(out_dir: Path, data_abbr: str, h5_path: Path, from_h5: bool) -> ServerSeries | None:
    """The scraped series of a run: from ``<ds>_details.h5`` in a recalculation that reads it, else from
    ``<ds>_server_metrics.csv``; None when the run scraped nothing."""
    if from_h5 and h5_path.is_file():
        series = read_server_series_h5(h5_path)
        if series is not None:
            return series
    csv_path = server_metrics_csv_path(out_dir, data_abbr)
    return read_server_series_csv(csv_path) if csv_path.is_file() else None


def stage_windows(table: RequestTable, summary: PerfSummary, batch_size: int) -> list[StageWindow]:
    """The total stage (first send to last end) and the steady window (the summary's, else found
    from the successful requests; left out when the run has none)."""
    windows = []
    if len(table) and np.isfinite(table.start_s).any():
        windows.append(StageWindow("total", float(np.nanmin(table.start_s)), float(np.nanmax(table.end_s))))
    if summary.window is not None:
        windows.append(StageWindow("stable", summary.window.start_s, summary.window.end_s))
    elif table.success.any():
        try:
            t2, t4 = find_stable_window(table.start_s[table.success], table.end_s[table.success], batch_size)
            windows.append(StageWindow("stable", t2, t4))
        except NoSteadyStage:
            pass
    return windows


def server_metrics_result(
    series: ServerSeries, table: RequestTable, summary: PerfSummary, batch_size: int, scrape: dict[str, Any] | None
) -> ServerMetricsResult:
    stages: dict[str, Any] = {}
    checks: dict[str, Any] = {}
    result = ServerMetricsResult({})
    for window in stage_windows(table, summary, batch_size):
        derived = derive(series, window)
        stages[window.stage] = derived.to_json_dict()
        check = cross_check(series, derived, table)
        share = None if check is None else check.prompt_cache_share
        result.lines += [summary_line(window.stage, server, share) for server in derived.servers]
        if check is not None:
            checks[window.stage] = check.to_json_dict()
            result.warnings += check.warnings
            result.lines += check.lines()
    result.entry = {**(scrape or {}), "stages": stages, "cross_check": checks}
    if not any(stage["servers"] for stage in stages.values()) and len(series):
        result.lines.append("Server metrics: no known server names among the scraped samples (kept raw in the csv)")
    return result


def summary_line(stage: str, derived: ServerDerived, client_cache_share: float | None = None) -> str:
    """One line of what the server said in a stage, e.g. ``running 3.9 (max 4), waiting 0.2, ...``;
    ``client_cache_share``: the prompt-cache share derived from the client's input tokens, shown when
    the server does not count its cached prompt tokens."""
    share = derived.prompt_cache_share if derived.prompt_cache_share is not None else client_cache_share
    parts = [
        _gauge_text("running", derived.running),
        _gauge_text("waiting", derived.waiting),
        _gauge_text("KV cache", derived.kv_cache_usage, percent=True),
        None if derived.prefix_cache_hit_rate is None else f"prefix-cache hits {derived.prefix_cache_hit_rate:.1%}",
        None if derived.spec_acceptance_rate is None else f"draft acceptance {derived.spec_acceptance_rate:.1%}",
        None if derived.spec_mean_accepted_length is None else f"accepted length {derived.spec_mean_accepted_length:.2f}",
        None if derived.prompt_tokens is None else f"prompt {derived.prompt_tokens.per_s:.1f} tok/s",
        None if derived.prompt_tokens_computed is None
        else f"prompt computed {derived.prompt_tokens_computed.per_s:.1f} tok/s",
        None if share is None else f"prompt-cache share {share:.1%}",
        None if derived.generation_tokens is None else f"generation {derived.generation_tokens.per_s:.1f} tok/s",
        _median_text("server TTFT", derived.ttft),
        _median_text("server ITL", derived.itl),
    ]
    shown = [part for part in parts if part is not None]
    return f"Server metrics ({derived.server}, {stage} stage): " + (", ".join(shown) if shown else "too few scrapes in the window")


def _median_text(what: str, stats: HistogramStats | None) -> str | None:
    median_s = None if stats is None else stats.quantiles_s.get("p50_s")
    return None if median_s is None else f"{what} p50 {median_s * 1000:.1f} ms"


def _gauge_text(what: str, stats: GaugeStats | None, *, percent: bool = False) -> str | None:
    if stats is None:
        return None
    if percent:
        return f"{what} {stats.mean:.1%} (max {stats.max:.1%})"
    return f"{what} {stats.mean:.2f} (max {stats.max:g})"

